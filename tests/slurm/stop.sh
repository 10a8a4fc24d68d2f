#!/usr/bin/env bash
# Stop the daemons that start.sh started, by PID.
STATE=${TEXGEN_SLURM_STATE:-/tmp/texgen-slurm}
for name in slurmd slurmctld slurmdbd mariadb munged; do
  pidfile="$STATE/run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null
  rm -f "$pidfile"
done
exit 0
