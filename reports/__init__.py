"""Periodic reports as files and from Kafka (an adapter): the form II.06a as XLSX and CSV, and the events
topic read from its earliest offset. The figures come from the core (`dossiers.report_ii06a`)."""
