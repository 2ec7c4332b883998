FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY campaign ./campaign
COPY worker ./worker
COPY migrations ./migrations
COPY config.py gunicorn.conf.py ./
RUN pip install . && useradd --create-home campaign
USER campaign
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
