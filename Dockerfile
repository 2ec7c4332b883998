FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY campaign ./campaign
COPY worker ./worker
COPY config.py ./
COPY migrations ./migrations
RUN pip install . && useradd --create-home campaign
USER campaign
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "campaign:create_app()"]
