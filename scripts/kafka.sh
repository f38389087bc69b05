#!/usr/bin/env bash
# scripts/kafka.sh — a one-node Apache Kafka (KRaft) for development, tests and CI.
#
#   scripts/kafka.sh up       download the jars (once), format storage (once), start the broker, wait for it
#   scripts/kafka.sh down     stop the broker started by `up`
#   scripts/kafka.sh status   print whether it is running and answering (exit 0 when it is)
#   scripts/kafka.sh reset    stop and delete the broker's data (jars stay cached)
#
# Everything lives under .kafka/ (git-ignored): libs/ (jars from Maven Central via `mvn
# dependency:copy-dependencies`), data/ (KRaft log dirs), server.properties, kafka.log, kafka.pid.
# Environment: KAFKA_VERSION (4.1.1), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# KAFKA_START_TIMEOUT (seconds, 60), KAFKA_HOME_DIR (.kafka), KAFKA_HEAP (-Xmx512m).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
LOG4J_VERSION="${LOG4J_VERSION:-2.24.3}"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
HOME_DIR="${KAFKA_HOME_DIR:-$ROOT/.kafka}"
LIBS="$HOME_DIR/libs"
DATA="$HOME_DIR/data"
PROPS="$HOME_DIR/server.properties"
LOG="$HOME_DIR/kafka.log"
PIDFILE="$HOME_DIR/kafka.pid"

say() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

fetch_jars() {
  if [[ -f "$LIBS/.complete-$KAFKA_VERSION" ]]; then return 0; fi
  command -v mvn >/dev/null || die "Cannot download Kafka: mvn is not installed (apt-get install maven)"
  command -v java >/dev/null || die "Cannot run Kafka: java is not installed (Java 17 or later is required)"
  mkdir -p "$HOME_DIR"
  cat >"$HOME_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>biogpu.dev</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  say "downloading Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  rm -rf "$LIBS"
  if ! mvn -q -B -f "$HOME_DIR/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS" -DincludeScope=runtime >"$HOME_DIR/mvn.log" 2>&1; then
    tail -n 30 "$HOME_DIR/mvn.log" >&2
    die "Cannot download Kafka jars: mvn failed (full log in $HOME_DIR/mvn.log)"
  fi
  touch "$LIBS/.complete-$KAFKA_VERSION"
}

write_config() {
  mkdir -p "$DATA"
  cat >"$PROPS" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
EOF
  cat >"$HOME_DIR/log4j2.properties" <<EOF
status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRefs = stdout
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.controller.name = org.apache.kafka
logger.controller.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
EOF
}

format_storage() {
  if [[ -f "$DATA/meta.properties" ]]; then return 0; fi
  local id
  id="$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ -n "$id" ]] || die "Cannot format Kafka storage: StorageTool random-uuid printed nothing"
  say "formatting KRaft storage (cluster id $id)"
  if ! java -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -cp "$LIBS/*" kafka.tools.StorageTool \
    format -t "$id" -c "$PROPS" >"$HOME_DIR/format.log" 2>&1; then
    cat "$HOME_DIR/format.log" >&2
    die "Cannot format Kafka storage in $DATA"
  fi
}

cmd_up() {
  if pid_alive && port_open "$PORT"; then
    say "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"
    return 0
  fi
  if ! pid_alive && port_open "$PORT"; then
    die "Cannot start Kafka: port $PORT is already in use by another process"
  fi
  fetch_jars
  write_config
  format_storage
  if ! pid_alive; then
    say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$PORT"
    # setsid: the broker survives the shell that started it (CI steps, test runners).
    setsid java ${KAFKA_HEAP:--Xmx512m} -Xms128m \
      -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" \
      -cp "$LIBS/*" kafka.Kafka "$PROPS" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  local waited=0
  while ! port_open "$PORT"; do
    if ! pid_alive; then
      tail -n 40 "$LOG" >&2 || true
      rm -f "$PIDFILE"
      die "Kafka exited during startup (log above, full log in $LOG)"
    fi
    if ((waited >= TIMEOUT * 2)); then
      tail -n 40 "$LOG" >&2 || true
      die "Kafka did not answer on 127.0.0.1:$PORT within ${TIMEOUT}s (log above, full log in $LOG)"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
}

cmd_down() {
  if ! pid_alive; then
    rm -f "$PIDFILE"
    say "not running"
    return 0
  fi
  local pid i
  pid="$(cat "$PIDFILE")"
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "broker did not stop in 30 s; killing pid $pid"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

cmd_status() {
  if pid_alive && port_open "$PORT"; then
    say "running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"
    return 0
  fi
  if port_open "$PORT"; then
    say "port $PORT answers, but not a broker started by this script"
    return 0
  fi
  say "not running"
  return 1
}

cmd_reset() {
  cmd_down
  rm -rf "$DATA" "$PROPS"
  say "data removed"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
reset) cmd_reset ;;
*)
  echo "usage: $0 up|down|status|reset" >&2
  exit 2
  ;;
esac
