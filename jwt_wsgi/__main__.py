"""``python -m jwt_wsgi``: the ``jwt-wsgi`` command line (:mod:`jwt_wsgi.cli`)."""

from .cli import run

if __name__ == "__main__":
    run()
