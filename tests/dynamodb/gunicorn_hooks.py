# gunicorn configuration for the seed tests (loaded with -c by seed_cmd).
# Each worker appends its PID to $SEED_BOOTED once it has loaded the app,
# from gunicorn's own post_worker_init hook: the test waits for that file
# to hold as many lines as it started workers, instead of counting the
# master's children while the last ones may still be forking. A worker
# that gunicorn restarts boots again and adds a line, so the file also
# tells a late boot from a restart.
import os


def post_worker_init(worker):
    path = os.environ.get("SEED_BOOTED")
    if path:
        with open(path, "a") as f:
            f.write("%d\n" % os.getpid())
