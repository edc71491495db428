"""Errors that routes report to the client as JSON."""


class ApiError(Exception):
    """An error a route reports to the client as JSON with a status code."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status
