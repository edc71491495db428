"""Route blueprints of the example sportsbook application."""
