"""The `ioc` sub-commands: one thin module per command (parse options, call a service, print).

Services live in their packages (`streams`, `producers`, `notifier`, `grafana`, `kafka_access`); a module
here only turns the command line into their arguments and their results into output.
"""
