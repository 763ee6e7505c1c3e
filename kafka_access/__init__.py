"""Who may do what on the centre's Kafka (phân quyền Kafka): SASL/SCRAM principals and ACLs.

Production code, run by the compose `kafka-acls` job and by operators through `ioc kafka-access`:

* `kafka_access.acl`: the rules, pure (principals, the ACL set per service and per agency, from the
  catalog's agency codes and the topic names);
* `kafka_access.settings`: the names the rules are about, read from the same `IOC_*` variables as the
  worker and the notifier (pydantic-settings, through `kafka_settings.KafkaSettings`);
* `kafka_access.admin`: putting the rules and the SCRAM credentials on a broker through Kafka's Admin API.

docs/security.md has the threat model and the whole ACL set; the local secured broker that the tests use is
`ioc.devstack.kafka_sasl.SecureKafkaBroker`.
"""
