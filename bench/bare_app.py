"""Reference apps for the webhook benchmark, served by gunicorn exactly like cartbridge.

- `create_app()`: the ceiling — answers 202 and does nothing.
- `create_publish_app()`: the Kafka floor — answers 202 after publishing the raw body once with cartbridge's own
  Publisher (same producer settings, acks=all). No signature, no validation: what any endpoint on this stack pays
  just to get one event durably into Kafka before answering.
"""
from flask import Flask, request

from config.settings import Settings
from events.publisher import Publisher


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/carts/<connection_id>")
    def accept(connection_id: str):
        return {"event_ids": []}, 202

    return app


def create_publish_app() -> Flask:
    app = Flask(__name__)
    publisher = Publisher(Settings.from_env())

    @app.post("/webhooks/carts/<connection_id>")
    def publish(connection_id: str):
        publisher.publish_record("floor", connection_id.encode(), {"body": request.get_data(as_text=True)})
        return {"event_ids": []}, 202

    return app
