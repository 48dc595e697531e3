"""Phase 3, the experiment loop: the Dispatcher (a pure-Python control loop) and what it needs beside it.

`contracts` holds every message between the Dispatcher and the roles, and the role interface it calls; the roles
themselves live in alphalab/roles/ and reach the Dispatcher only through that interface (`alphalab.roles.phase3`
binds them in-process, `tasks/experiment_roles.py` as Prefect task runs).
"""
