"""The HTTP side: the Flask app (app.py has the route table), one module per family of endpoints,
and what serving needs around them: caches, admission, conditional GET, metrics, logs, the page."""
