"""The web ceiling: a bare Flask app with one JSON route, served like the product.

``gunicorn -c gunicorn.conf.py "bench.bare_app:create_app()"`` runs it with the same
workers, threads and settings as the real app, so the difference is the app's work.
"""

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/bare")
    def bare():
        payload = request.get_json(silent=True)
        return jsonify(status="ok", fields=len(payload or {})), 202

    return app
