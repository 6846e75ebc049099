# Sourced by .ci/run: the whole suite with the portable poll(2) backend, as
# macOS and the BSDs use it.
run_config poll gcc -DTOFU_POLLER=poll
