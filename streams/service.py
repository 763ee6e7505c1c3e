"""Run one stream worker: the service behind `ioc worker` (ioc/commands/worker.py)."""

from __future__ import annotations

import logging

from dossiers.catalog import SAMPLE_WARNING, Catalog, load_catalog
from streams.faust_compat import check_faust
from streams.settings import StreamSettings

log = logging.getLogger(__name__)


def core_build() -> str:
    """"compiled" when the domain core's processor runs as a mypyc extension (`ioc native build`), else
    "source": the same results, about a fifth fewer events per second (docs/benchmarks.md)."""
    import sysconfig

    from streams import processor

    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    return "compiled" if str(processor.__file__).endswith(suffix) else "source"


def warn_at_start_up(catalog: Catalog) -> None:
    """Loud warnings a worker's log must start with: the sample catalog, an untested Faust; and how the
    domain core runs (compiled or from source)."""
    if catalog.sample:
        log.warning("WARNING: %s", SAMPLE_WARNING)
    check_faust()
    log.info("the domain core runs %s", "compiled (mypyc)" if core_build() == "compiled" else "from source")


def run_worker(settings: StreamSettings, catalog: Catalog | None = None) -> None:
    """Create the topics if missing, then consume until stopped (SIGTERM: Faust shuts down cleanly)."""
    import faust  # imported here: the command's --help must not pay for Faust

    from streams.app import create_app
    from streams.topics import ensure_topics

    logging.basicConfig(level=settings.log_level)
    catalog = catalog if catalog is not None else load_catalog(settings.catalog)
    warn_at_start_up(catalog)
    partitions = ensure_topics(settings)
    app, _ = create_app(settings, partitions, catalog)
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
