#!/bin/bash
# A real FreePBX 17 with Asterisk 22 in two chroots, for the project's FreePBX tests.
# Driven by tests/testbed/freepbx/bed.py; every mount is made inside a private mount namespace that the
# caller opened (unshare --mount), so nothing is left mounted on the host.
#
#   kit.sh build KIT SRC   build the roots into KIT from SRC/pbx.tar and SRC/fw.tar (the imported sources)
#   kit.sh up KIT RUN      overlay KIT under RUN (RUN/upper keeps every change), start MariaDB, Asterisk and
#                          Apache, print "kit-up", then hold the namespace until killed
#
# Layout: a Debian bookworm root (PHP 8.2, MariaDB, Apache, the FreePBX web root) and a Debian sid root
# (Asterisk 22, SIPp; bookworm has no Asterisk) nested at /opt/sid. Asterisk's folders, the web root and
# MariaDB's socket are bind-mounted between the two, so FreePBX writes what Asterisk reads. Ports are fixed
# at build time (ports.env). FreePBX code comes only from SRC, never from this repository.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/ports.env"
MIRROR=${QCB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
AST_GID=990
ASTDIRS="etc/asterisk var/lib/asterisk var/spool/asterisk var/log/asterisk run/asterisk var/www/html run/mysqld"
BW_PACKAGES="php-cli php-mysql php-xml php-mbstring php-curl php-gd php-intl php-bcmath php-zip libapache2-mod-php
  apache2 mariadb-server mariadb-client python3 python3-venv python3-pip python3-dev make ca-certificates nodejs
  cron sudo procps gnupg git curl sox gettext libmariadb-dev pkg-config gcc npm"
SID_PACKAGES="asterisk asterisk-modules asterisk-config asterisk-core-sounds-en sip-tester python3 python3-venv
  python3-mysqldb python3-phonenumbers python3-jinja2 python3-click python3-six"

IN()  { chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
INS() { chroot "$S" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
mnt() { mountpoint -q "$2" || { [ -e "$2" ] || mkdir -p "$2"; mount "${@:3}" "$1" "$2"; }; }
say() { echo "kit: $*"; }

roots() { R=$1/bw; S=$1/sid; }

mounts() {
  mnt proc "$R/proc" -t proc; mnt devpts "$R/dev/pts" -t devpts -o newinstance,ptmxmode=0666
  mnt proc "$S/proc" -t proc; mnt devpts "$S/dev/pts" -t devpts -o newinstance,ptmxmode=0666
  mkdir -p "$R/dev/shm" "$S/dev/shm"; mnt tmpfs "$R/dev/shm" -t tmpfs; mnt tmpfs "$S/dev/shm" -t tmpfs
  local d
  for d in $ASTDIRS; do mkdir -p "$R/$d" "$S/$d"; mnt "$R/$d" "$S/$d" --bind; done
  [ -e "$S/etc/freepbx.conf" ] || touch "$S/etc/freepbx.conf"
  [ -e "$R/etc/freepbx.conf" ] && mnt "$R/etc/freepbx.conf" "$S/etc/freepbx.conf" --bind
  mkdir -p "$R/opt/sid"; mnt "$S" "$R/opt/sid" --rbind   # last: the nested view gets the binds above
}

bootstrap() {
  [ -x "$R/usr/bin/apt-get" ] || { say "debootstrap bookworm"; debootstrap --variant=minbase bookworm "$R" "$MIRROR" >/dev/null; }
  [ -x "$S/usr/bin/apt-get" ] || { say "debootstrap sid"; debootstrap --variant=minbase sid "$S" "$MIRROR" >/dev/null; }
  local r
  for r in "$R" "$S"; do printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"; done
  echo 'Acquire::Check-Valid-Until "false";' > "$S/etc/apt/apt.conf.d/99novaliduntil"
  mnt proc "$R/proc" -t proc; mnt devpts "$R/dev/pts" -t devpts -o newinstance,ptmxmode=0666
  mnt proc "$S/proc" -t proc; mnt devpts "$S/dev/pts" -t devpts -o newinstance,ptmxmode=0666
  say "sid packages"
  INS sh -c "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(echo $SID_PACKAGES) >/dev/null"
  INS sh -c 'apt-get install -y -q --no-install-recommends asterisk-core-sounds-ru >/dev/null 2>&1 || true'
  say "bookworm packages"
  IN sh -c "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(echo $BW_PACKAGES) >/dev/null"
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$(hostname)" > "$R/etc/hosts"
  cp /etc/ssl/certs/ca-certificates.crt "$R/usr/local/share/host-ca.crt"
  printf '[global]\ncert = /usr/local/share/host-ca.crt\n' > "$R/etc/pip.conf"
  # the asterisk user with one uid/gid in both roots (files are shared through bind mounts); sid's
  # asterisk gid 101 is bookworm's crontab group, so both get $AST_GID
  local u; u=$(INS id -u asterisk)
  [ "$(INS id -g asterisk)" = "$AST_GID" ] || INS sh -c "groupmod -g $AST_GID asterisk && find / -xdev -gid 101 -exec chgrp -h $AST_GID {} + 2>/dev/null; true"
  IN sh -c "if id asterisk >/dev/null 2>&1 && [ \$(id -g asterisk) != $AST_GID ]; then userdel asterisk; fi
            getent group asterisk >/dev/null || groupadd -g $AST_GID asterisk
            id asterisk >/dev/null 2>&1 || useradd -u $u -g $AST_GID -d /home/asterisk -m -s /bin/bash asterisk"
  # Asterisk's data folder lives in the bookworm root (shared), filled from sid's packages
  if [ ! -d "$R/var/lib/asterisk/sounds/en" ]; then
    mkdir -p "$R/var/lib/asterisk/sounds" "$R/var/lib/asterisk/moh" "$R/var/lib/asterisk/agi-bin" "$R/var/lib/asterisk/bin"
    cp -aL "$S/usr/share/asterisk/sounds/en_US_f_Allison" "$R/var/lib/asterisk/sounds/en"
    local d
    for d in documentation keys rest-api static-http phoneprov firmware; do cp -a "$S/usr/share/asterisk/$d" "$R/var/lib/asterisk/" 2>/dev/null || true; done
  fi
  mkdir -p "$R"/var/spool/asterisk/{outgoing,tmp,monitor,voicemail,recording,cache} "$R/var/log/asterisk" "$R/run/asterisk" "$R/etc/asterisk"
}

freepbx_files() {
  local src=$1
  if [ ! -f "$R/var/www/html/admin/bootstrap.php" ]; then
    say "FreePBX web root"
    rm -f "$R/var/www/html/index.html"; mkdir -p "$R/var/www/html"
    tar -x -C "$R/var/www/html" -f "$src/pbx.tar"
  fi
  mkdir -p "$R/usr/src/fwsrc"
  [ -f "$R/usr/src/fwsrc/installlib/installer.class.php" ] || tar -x -C "$R/usr/src/fwsrc" -f "$src/fw.tar"
  sed -i '1s/^\xEF\xBB\xBF//' "$R/usr/src/fwsrc/installlib/installer.class.php"
  local f b
  for f in "$R"/usr/src/fwsrc/amp_conf/bin/*; do cp -n "$f" "$R/var/lib/asterisk/bin/"; chmod 755 "$R/var/lib/asterisk/bin/$(basename "$f")"; done
  cp -n "$R"/usr/src/fwsrc/amp_conf/agi-bin/* "$R/var/lib/asterisk/agi-bin/"
  for f in "$R"/usr/src/fwsrc/amp_conf/astetc/*; do b=$(basename "$f"); [ -e "$R/etc/asterisk/$b" ] || cp "$f" "$R/etc/asterisk/$b"; done
  [ -e "$R/etc/asterisk/voicemail.conf" ] || cp "$R/etc/asterisk/voicemail.conf.template" "$R/etc/asterisk/voicemail.conf"
  ln -sf /var/lib/asterisk/bin/fwconsole "$R/usr/sbin/fwconsole"
  cat > "$R/etc/asterisk/asterisk.conf" <<CONF
[directories]
astetcdir => /etc/asterisk
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => /var/lib/asterisk
astdbdir => /var/lib/asterisk
astkeydir => /var/lib/asterisk
astdatadir => /var/lib/asterisk
astagidir => /var/lib/asterisk/agi-bin
astspooldir => /var/spool/asterisk
astrundir => /var/run/asterisk
astlogdir => /var/log/asterisk
astsbindir => /usr/sbin
[options]
verbose = 3
execincludes = yes
transmit_silence = yes
runuser = asterisk
rungroup = asterisk
CONF
  sed -i -e "s/^\[AMPMGRUSER\]/[admin]/" -e "s/AMPMGRPASS/$MGRPASS/" -e "s/^port = .*/port = $AMI_PORT/" \
         -e "s/^bindaddr = .*/bindaddr = 127.0.0.1/" "$R/etc/asterisk/manager.conf"
  # `asterisk` in the bookworm root runs sid's binary; the web server (user asterisk) may run just that
  printf '#!/bin/sh\nif [ "$(id -u)" = 0 ]; then exec chroot /opt/sid /usr/sbin/asterisk "$@"; fi\nexec sudo -n /usr/sbin/chroot /opt/sid /usr/sbin/asterisk "$@"\n' > "$R/usr/sbin/asterisk"
  chmod 755 "$R/usr/sbin/asterisk"
  echo 'asterisk ALL=(root) NOPASSWD: /usr/sbin/chroot /opt/sid /usr/sbin/asterisk *' > "$R/etc/sudoers.d/kit-asterisk"
  chmod 440 "$R/etc/sudoers.d/kit-asterisk"
  IN chown -R asterisk:asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk /run/asterisk /etc/asterisk
}

services_config() {
  cat > "$R/etc/mysql/mariadb.conf.d/99-kit.cnf" <<CONF
[mysqld]
port = $DB_PORT
bind-address = 127.0.0.1
sql_mode = ""
innodb_buffer_pool_size = 64M
[client]
port = $DB_PORT
CONF
  echo "Listen 127.0.0.1:$WEB_PORT" > "$R/etc/apache2/ports.conf"
  sed -i -e 's/^export APACHE_RUN_USER=.*/export APACHE_RUN_USER=asterisk/' -e 's/^export APACHE_RUN_GROUP=.*/export APACHE_RUN_GROUP=asterisk/' "$R/etc/apache2/envvars"
  sed -i 's#<VirtualHost \*:80>#<VirtualHost *:'"$WEB_PORT"'>#' "$R/etc/apache2/sites-available/000-default.conf"
  printf 'ServerName localhost\n<Directory /var/www/html>\n  AllowOverride All\n</Directory>\n' > "$R/etc/apache2/conf-available/kit-freepbx.conf"
  IN sh -c 'a2enmod -q rewrite >/dev/null; a2enconf -q kit-freepbx >/dev/null'
  local ini
  for ini in "$R/etc/php/8.2/apache2/php.ini" "$R/etc/php/8.2/cli/php.ini"; do
    sed -i -e 's/^memory_limit = .*/memory_limit = 512M/' -e 's/^upload_max_filesize = .*/upload_max_filesize = 120M/' -e 's/^post_max_size = .*/post_max_size = 120M/' "$ini"
  done
}

start_db() {
  IN sh -c 'mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld'
  if ! IN mariadb-admin ping >/dev/null 2>&1; then
    [ -d "$R/var/lib/mysql/mysql" ] || IN mariadb-install-db --user=mysql >/dev/null
    setsid chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/mariadbd --user=mysql >"$LOGS/mariadb.log" 2>&1 </dev/null &
    local i; for i in $(seq 100); do IN mariadb-admin ping >/dev/null 2>&1 && return 0; sleep 0.2; done
    say "MariaDB did not start"; tail -20 "$LOGS/mariadb.log"; return 1
  fi
}

start_asterisk() {
  if ! INS asterisk -rx 'core show version' >/dev/null 2>&1; then
    setsid chroot "$S" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /usr/sbin/asterisk -f -U asterisk -G asterisk >"$LOGS/asterisk.out" 2>&1 </dev/null &
  fi
  local i; for i in $(seq 150); do INS asterisk -rx 'core waitfullybooted' >/dev/null 2>&1 && return 0; sleep 0.2; done
  say "Asterisk did not boot"; tail -20 "$LOGS/asterisk.out"; return 1
}

start_web() { IN sh -c 'mkdir -p /var/run/apache2 /var/lock/apache2; apache2ctl start' 2>"$LOGS/apache.err" || { cat "$LOGS/apache.err"; return 1; }; }

stop_services() {
  INS asterisk -rx 'core stop now' >/dev/null 2>&1 || true
  IN apache2ctl stop >/dev/null 2>&1 || true
  IN mariadb-admin shutdown >/dev/null 2>&1 || true
  local i; for i in $(seq 50); do IN mariadb-admin ping >/dev/null 2>&1 || break; sleep 0.2; done
}

init_db() {
  IN mariadb -e "CREATE DATABASE IF NOT EXISTS asterisk DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    CREATE DATABASE IF NOT EXISTS asteriskcdrdb DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    CREATE USER IF NOT EXISTS 'freepbxuser'@'localhost' IDENTIFIED BY '$DBPASS';
    CREATE USER IF NOT EXISTS 'freepbxuser'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
    GRANT ALL PRIVILEGES ON asterisk.* TO 'freepbxuser'@'localhost'; GRANT ALL PRIVILEGES ON asteriskcdrdb.* TO 'freepbxuser'@'localhost';
    GRANT ALL PRIVILEGES ON asterisk.* TO 'freepbxuser'@'127.0.0.1'; GRANT ALL PRIVILEGES ON asteriskcdrdb.* TO 'freepbxuser'@'127.0.0.1';
    FLUSH PRIVILEGES;"
  [ -f "$R/etc/freepbx.conf" ] && return 0
  say "FreePBX database (framework installer library)"
  sed -e "s/@DB_PORT@/$DB_PORT/g" -e "s/@DBPASS@/$DBPASS/g" -e "s/@MGRPASS@/$MGRPASS/g" -e "s/@AMI_PORT@/$AMI_PORT/g" \
    "$HERE/init.php" > "$R/usr/src/kit-init.php"
  IN sh -c 'cd /usr/src/fwsrc && php /usr/src/kit-init.php'
  # the framework source copy carries a third party's branding in its settings: back to FreePBX's own
  IN mariadb asterisk < "$HERE/branding.sql"
}

install_modules() {
  local f inc
  for f in "$R"/etc/asterisk/*.conf; do
    grep -hoE '^\s*#include\s*\S+' "$f" 2>/dev/null | awk '{print $2}' | while read -r inc; do
      [ -e "$R/etc/asterisk/$inc" ] || touch "$R/etc/asterisk/$inc"; done || true
  done
  IN sh -c 'chown -R asterisk:asterisk /etc/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk /var/www/html'
  INS asterisk -rx 'module reload manager' >/dev/null
  IN fwconsole chown >/dev/null 2>&1 || true
  say "FreePBX modules"
  IN fwconsole ma install framework >/dev/null
  IN fwconsole ma install core dashboard sipsettings voicemail >/dev/null
  IN fwconsole ma install recordings music >/dev/null
  IN fwconsole ma install queues callrecording >/dev/null   # ext-queues gosubs callrecording's sub-record-check
  IN fwconsole ma install pm2 >/dev/null
  IN fwconsole ma install cel calendar timeconditions >/dev/null   # Time Groups: a queue's callback hours
  # core's node FastAGI server would take 127.0.0.1:4573 on the shared loopback: off in the bed (a stock
  # FreePBX has it on; the product never listens there, see tests/freepbx)
  IN fwconsole setting LAUNCH_AGI_AS_FASTAGI 0 >/dev/null
  IN fwconsole setting SIGNATURECHECK 0 >/dev/null || true
  IN fwconsole setting HTTPBINDPORT "$AST_HTTP_PORT" >/dev/null 2>&1 || true
  IN fwconsole setting HTTPTLSBINDPORT "$AST_HTTPS_PORT" >/dev/null 2>&1 || true
  IN mariadb asterisk -e "REPLACE INTO kvstore_Sipsettings (\`key\`,val,type,id) VALUES
      ('bindport','$SIP_PORT',NULL,'noid'),('udpport-0.0.0.0','$SIP_PORT',NULL,'noid'),
      ('rtpstart','$RTP_START',NULL,'noid'),('rtpend','$RTP_END',NULL,'noid')"
  IN mariadb asterisk -e "INSERT IGNORE INTO ampusers (username,password_sha1,extension_low,extension_high,deptname,sections)
      VALUES ('admin',SHA1('admin'),'','','','*')"
  # Asterisk's full log, as FreePBX's Log File Settings module writes it on a stock install
  printf '[general]\ndateformat = %%F %%T.%%3q\n[logfiles]\nfull => notice,warning,error,verbose(3),dtmf\nconsole => notice,warning,error\n' > "$R/etc/asterisk/logger.conf"
  # no IAX, no other Asterisk's ports: this bed may run beside other Asterisks on the same loopback
  printf 'noload = chan_iax2.so\nnoload = res_pjsip_transport_websocket.so\n' > "$R/etc/asterisk/modules_custom.conf"
  cp "$HERE/pjsip_custom_post.conf" "$R/etc/asterisk/pjsip_custom_post.conf"
  IN chown asterisk:asterisk /etc/asterisk/modules_custom.conf /etc/asterisk/pjsip_custom_post.conf /etc/asterisk/logger.conf
  say "fixtures"
  cp "$HERE/fixture.php" "$R/usr/src/kit-fixture.php"
  IN php /usr/src/kit-fixture.php
  IN fwconsole reload >/dev/null
  # Asterisk booted before FreePBX wrote its configuration: restart once, as a FreePBX install does
  INS asterisk -rx 'core restart now' >/dev/null 2>&1 || true; sleep 2
  local i; for i in $(seq 150); do INS asterisk -rx 'core waitfullybooted' >/dev/null 2>&1 && break; sleep 0.2; done
  INS asterisk -rx 'database put DEVICE 1002/dial PJSIP/agent' >/dev/null
  INS asterisk -rx 'queue show 400' | grep -q 'Local/1002@from-queue' || { say "queue 400 has no member 1002"; return 1; }
}

build() {
  local kit=$1 src=$2
  roots "$kit"; LOGS=$kit/logs; mkdir -p "$LOGS"
  [ -f "$kit/secrets.env" ] || printf 'DBPASS=%s\nMGRPASS=%s\n' "$(head -c12 /dev/urandom | md5sum | cut -c1-16)" "$(head -c12 /dev/urandom | md5sum | cut -c1-16)" > "$kit/secrets.env"
  . "$kit/secrets.env"
  bootstrap
  freepbx_files "$src"
  services_config
  mounts
  start_db; start_asterisk; init_db; install_modules
  start_web
  # a first page load builds FreePBX's caches; proves the web server serves the admin
  curl -fsS -o /dev/null "http://127.0.0.1:$WEB_PORT/admin/config.php" || { say "web page did not load"; return 1; }
  stop_services
  say "built"
}

up() {
  local kit=$1 run=$2 r
  for r in bw sid; do
    mkdir -p "$run/upper/$r" "$run/ovwork/$r" "$run/root/$r"
    mount -t overlay overlay -o "lowerdir=$kit/$r,upperdir=$run/upper/$r,workdir=$run/ovwork/$r" "$run/root/$r"
  done
  roots "$run/root"; LOGS=$run/logs; mkdir -p "$LOGS"
  mounts
  # the run folder at the same path in both roots: SIPp scenarios and traces, the test's files
  mnt "$run/work" "$S$run/work" --bind; mnt "$run/work" "$R$run/work" --bind
  start_db; start_asterisk; start_web
  echo kit-up
  exec sleep infinity
}

case "${1:-}" in
  build) build "$2" "$3" ;;
  up) up "$2" "$3" ;;
  *) echo "usage: $0 build KIT SRC | up KIT RUN" >&2; exit 2 ;;
esac
