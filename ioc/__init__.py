"""Entry points of ioc-monitor: the `ioc` command and the local development stack."""
