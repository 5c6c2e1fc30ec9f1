"""Real Kafka and ClickHouse servers on this machine, for development, tests and `crossrec up`."""
