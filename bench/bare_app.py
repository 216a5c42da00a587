"""The ceiling for the webhook benchmark: a Flask endpoint served the same way that answers 202 and does nothing."""
from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/carts/<connection_id>")
    def accept(connection_id: str):
        return {"event_ids": []}, 202

    return app
