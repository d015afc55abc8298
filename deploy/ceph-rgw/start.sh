#!/bin/bash
# Starts (creating on first start) a one-node Ceph cluster in /var/lib/ceph/sipvm and radosgw on
# RGW_PORT. Inside the container only: the daemons talk on 127.0.0.1 without authentication
# (auth none); S3 clients are authenticated by radosgw with S3_ACCESS_KEY / S3_SECRET_KEY.
set -euo pipefail
: "${S3_ACCESS_KEY:?S3_ACCESS_KEY must be set}" "${S3_SECRET_KEY:?S3_SECRET_KEY must be set}"
dir=/var/lib/ceph/sipvm
conf=$dir/ceph.conf
export CEPH_CONF=$conf
mon_port=3300
pools=(.rgw.root default.rgw.control default.rgw.meta default.rgw.log default.rgw.buckets.index default.rgw.buckets.data)
ulimit -c 0

if [ ! -f "$conf" ]; then
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/run"
  cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
keyring = $dir/keyring
run dir = $dir/run
admin socket =
log to stderr = true
err to stderr = true
log file =
mon cluster log to stderr = false
debug ms = 0/0
debug mon = 0/0
debug paxos = 0/0
debug osd = 0/0
debug bluestore = 0/0
debug bluefs = 0/0
debug bdev = 0/0
debug rocksdb = 0/0
debug rgw = 0/0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon allow pool size one = true
paxos propose interval = 0.1

[mon.a]
mon data = $dir/mon

[osd.0]
osd data = $dir/osd
osd objectstore = bluestore
bluestore block create = true
bluestore block size = $OSD_SIZE
osd memory target = 939524096

[client.rgw]
rgw frontends = beast port=RGW_PORT_PLACEHOLDER
rgw data = $dir/rgw
rgw thread pool size = 64
CONF
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
  rm "$dir/monmap"
fi
# The S3 port may change between starts.
sed -i "s/^rgw frontends = .*/rgw frontends = beast port=$RGW_PORT/" "$conf"

pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null; wait; }
trap stop TERM INT

ceph-mon -f -i a & pids+=($!)
# Each step below is done once and skipped when its result is there (a first start may be cut short).
if [ ! -f "$dir/osd/whoami" ]; then
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  { echo "osd new $osd_uuid 0"
    for pool in "${pools[@]}"; do echo "osd pool create $pool 8 8"; echo "osd pool application enable $pool rgw"; done
  } | ceph --connect-timeout 60 >/dev/null
  ceph-osd --mkfs -i 0 --osd-uuid "$osd_uuid"
fi
ceph-osd -f -i 0 & pids+=($!)
radosgw -f -n client.rgw & pids+=($!)

for _ in $(seq 120); do (exec 3<>"/dev/tcp/127.0.0.1/$RGW_PORT") 2>/dev/null && break; sleep 1; done
if ! radosgw-admin -n client.admin user info --uid sipvm >/dev/null 2>&1; then
  radosgw-admin -n client.admin user create --uid sipvm --display-name sipvm \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" >/dev/null
fi
s3=(s3cmd --access_key="$S3_ACCESS_KEY" --secret_key="$S3_SECRET_KEY" --host="127.0.0.1:$RGW_PORT"
    --host-bucket="127.0.0.1:$RGW_PORT" --no-ssl --region=us-east-1)
"${s3[@]}" info "s3://$S3_BUCKET" >/dev/null 2>&1 || "${s3[@]}" mb "s3://$S3_BUCKET"
echo "ceph-rgw: S3 on port $RGW_PORT, bucket $S3_BUCKET"
# One daemon ending ends the container (and the restart policy brings it back).
wait -n || true
stop
exit 1
