# Fetches the greeting from `db` by name every 2 s and serves it with httpd on port 80.
mkdir -p /www
while true; do wget -q -O /www/index.html http://db/greeting; sleep 2; done &
exec httpd -f -p 80 -h /www
