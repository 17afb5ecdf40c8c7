# The newsetl image of docker-compose.yml: `newsetl serve` and `newsetl kibana import`.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY tasks ./tasks
COPY flows ./flows
COPY newsetl ./newsetl
RUN pip install --no-cache-dir . && useradd --create-home newsetl
USER newsetl
CMD ["newsetl", "serve"]
