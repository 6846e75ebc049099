# Sourced by .ci/run: the whole suite under ThreadSanitizer.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_config tsan clang -DTOFU_SANITIZE=thread
