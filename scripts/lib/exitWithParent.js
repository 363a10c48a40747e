// Preloaded (`node -r`) into the local chain's process. The parent holds the other end of this process's stdin;
// when the parent exits for any reason (even SIGKILL) the pipe closes and this process exits too, so a local
// chain never outlives the script that started it and never keeps its port.
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
