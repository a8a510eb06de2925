"""A Django project behind jwt_wsgi (see wsgi.py and settings.py)."""
