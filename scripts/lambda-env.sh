# shellcheck shell=bash
# Sourced by scripts/bench-lambda and scripts/lambda-smoke: the environment a Lambda
# bootstrap gets from Lambda, then what template.yaml gives the functions (Globals, and the
# dispatcher's TIDINGS_PUBLIC_URL, harmless to the others), in the array `lambda_env`, for
# `env -i "${lambda_env[@]}" …`. Every AWS endpoint is $2, a 127.0.0.1 port nothing listens
# on, so nothing leaves the machine (AWS_MAX_ATTEMPTS=1: one refused connect, no backoff).
# HOME is $1, an empty directory: no ~/.aws profile files, as on Lambda.
lambda_env_with() { # work dir, dead endpoint URL
  lambda_env=(
    PATH=/usr/local/bin:/usr/bin:/bin LANG=en_US.UTF-8 TZ=:UTC
    LAMBDA_TASK_ROOT="$1" LAMBDA_RUNTIME_DIR="$1" _HANDLER=bootstrap
    AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023 AWS_LAMBDA_INITIALIZATION_TYPE=on-demand
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 'AWS_LAMBDA_FUNCTION_VERSION=$LATEST'
    'AWS_LAMBDA_LOG_STREAM_NAME=2026/11/25/[$LATEST]0123456789abcdef'
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    AWS_ACCESS_KEY_ID=ASIABENCHBENCHBENCH0 AWS_SECRET_ACCESS_KEY=bench AWS_SESSION_TOKEN=bench
    HOME="$1"
    AWS_ENDPOINT_URL="$2" AWS_MAX_ATTEMPTS=1
    RUST_LOG=info
    TIDINGS_TABLE=tidings-bench-Table
    TIDINGS_DELIVERY_QUEUE_URL="$2/123456789012/tidings-bench-DeliveriesQueue"
    TIDINGS_DEAD_LETTER_QUEUE_URL="$2/123456789012/tidings-bench-DeadLetterQueue"
    TIDINGS_KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000
    TIDINGS_RETRY_SCHEDULE=5s,5m,30m,2h,5h,10h,10h TIDINGS_DELIVERY_TIMEOUT_SECS=15
    TIDINGS_RECORD_TTL_DAYS=30 TIDINGS_SECRET_ROTATION_OVERLAP_SECS=86400
    TIDINGS_AUTO_DISABLE_AFTER_SECS=432000 TIDINGS_METRICS_TENANT_DIMENSION=false
    TIDINGS_PUBLIC_URL=https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com
  )
}

# A loopback port nothing listens on: bind port 0, read the port, close it.
dead_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
