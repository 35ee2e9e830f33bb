"""RabbitMQ: the topology (names, arguments) and confirmed publishing."""
