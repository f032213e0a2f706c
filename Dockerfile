FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[flower]'
# docker-compose.yml mounts a named volume at /data. Docker seeds a new volume from the image's
# directory, owner included; without one here it would be root's, and `nobody` could not write
# the chunk store.
RUN mkdir -p /data && chown nobody:nogroup /data
USER nobody
EXPOSE 8000
CMD ["docjobs", "web"]
