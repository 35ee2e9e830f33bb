"""Code shared by the receiver and the worker: settings, logging, errors, the WeChat protocol
core and API client, the state store and the RabbitMQ topology."""
