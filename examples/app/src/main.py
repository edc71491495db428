"""Flask app initialization: blueprints, error handlers, the tracking dashboard."""

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from src.errors import ApiError
from src.utils.connection_tracker import get_connection_stats


def create_app():
    app = Flask(__name__)

    from src.routes.auth import auth_bp
    from src.routes.betting import betting_bp
    from src.routes.branding import branding_bp
    from src.routes.comprehensive_admin import admin_bp
    from src.routes.health import health_bp
    from src.routes.json_sports import sports_bp
    from src.routes.multitenant_routing import tenant_bp
    from src.routes.notes import notes_bp
    from src.routes.public_leaderboard import leaderboard_bp
    from src.routes.raw_reports import reports_bp
    from src.routes.rich_admin_interface import rich_admin_bp
    from src.routes.sportsbook_registration import registration_bp
    from src.routes.superadmin import superadmin_bp
    from src.routes.theme_customization import theme_bp

    for blueprint in (
        auth_bp,
        betting_bp,
        branding_bp,
        admin_bp,
        health_bp,
        sports_bp,
        tenant_bp,
        leaderboard_bp,
        notes_bp,
        reports_bp,
        rich_admin_bp,
        registration_bp,
        superadmin_bp,
        theme_bp,
    ):
        app.register_blueprint(blueprint)

    @app.get("/health/dashboard")
    def connection_dashboard():
        stats = get_connection_stats()
        return jsonify(
            active_now={ctx: c["active_now"] for ctx, c in stats["contexts"].items()},
            active_now_total=stats["active_now_total"],
            acquired={ctx: c["acquired"] for ctx, c in stats["contexts"].items()},
            released={ctx: c["released"] for ctx, c in stats["contexts"].items()},
            total_acquired=stats["total_acquired"],
            total_released=stats["total_released"],
        )

    @app.errorhandler(ApiError)
    def api_error(err):
        return jsonify(error=err.message), err.status

    @app.errorhandler(Exception)
    def unexpected_error(err):
        if isinstance(err, HTTPException):
            return jsonify(error=err.name), err.code
        return jsonify(error="internal error", kind=type(err).__name__), 500

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=5000)
