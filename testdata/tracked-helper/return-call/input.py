from flask import Blueprint

bp = Blueprint("branding", __name__)


def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    return connect(use_pool=True)
