"""One module per board; grafana/dashboards.py assembles them."""
