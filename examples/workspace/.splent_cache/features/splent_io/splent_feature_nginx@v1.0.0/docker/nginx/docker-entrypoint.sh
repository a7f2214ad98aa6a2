#!/bin/bash
# Render /etc/nginx/templates/*.template into /etc/nginx/conf.d/ (replacing ${NAME} with the
# value of that environment variable, like the official image's envsubst step), then run the
# command (nginx -g 'daemon off;') as this container's main process.
set -euo pipefail

rm -f /etc/nginx/sites-enabled/default
for template in /etc/nginx/templates/*.template; do
    [ -e "$template" ] || continue
    content=$(<"$template")
    for name in NGINX_UPSTREAM_HOST NGINX_UPSTREAM_PORT NGINX_SERVER_NAME NGINX_ENV; do
        placeholder="\${$name}"
        content=${content//"$placeholder"/"${!name:-}"}
    done
    out="/etc/nginx/conf.d/$(basename "$template" .template)"
    printf '%s\n' "$content" > "$out"
    echo "nginx: rendered $out (upstream ${NGINX_UPSTREAM_HOST:-?}:${NGINX_UPSTREAM_PORT:-?})"
done
exec "$@"
