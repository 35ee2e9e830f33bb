"""Tests of shared.amqp."""
