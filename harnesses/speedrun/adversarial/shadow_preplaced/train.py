raise SystemExit("the real harness ran: the shadow package was ignored")
