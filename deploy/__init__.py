"""Deployment artefacts and the generators of the files downstream teams and operators use.

``python -m deploy.generate`` rewrites the generated files (RabbitMQ definitions, AsyncAPI
document, outcome-event JSON Schema) from the code; ``--check`` fails when they are stale.
"""
