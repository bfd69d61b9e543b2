# lingma-proxy from this source tree:
#   docker build -t lingma-proxy .
#   docker run -p 8095:8095 -e LINGMA_PROXY_API_KEY=choose-a-key \
#     -v $PWD/credentials.json:/credentials.json:ro lingma-proxy \
#     serve --host 0.0.0.0 --backend remote --remote-auth-file /credentials.json
# (`lingma-proxy export-bundle` writes a ready-made server bundle with its own Dockerfile.)
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --create-home proxy
USER proxy
EXPOSE 8095
ENTRYPOINT ["lingma-proxy"]
CMD ["serve", "--host", "0.0.0.0"]
