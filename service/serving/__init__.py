"""Production serving below Flask: the gunicorn worker class, the request-body buffer, the log filter.

``worker``  a gevent worker class (one greenlet per connection, so slow clients cost no worker)
            that times out stalled requests and answers gunicorn's parse errors as problem+json;
``body``    WSGI middleware that reads every request body up to the limit before the app sees it
            (413 for chunked bodies too, 400 for a malformed chunk, 408 for a stalled body);
``threads`` runs the app in a few native threads of each gevent worker (a diagnosis is CPU-bound);
``problems``  the raw problem+json responses and request ids used below Flask;
``logs``    gunicorn's logger class, reduced to method, path, status, latency and request id.
"""
