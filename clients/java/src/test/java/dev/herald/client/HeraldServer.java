package dev.herald.client;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real herald-server process (binary from HERALD_SERVER_BIN) on 127.0.0.1 with its own data
 * dir. {@link #restart()} stops it gracefully and starts it on the same port and data dir, which
 * is what a client sees when its broker restarts.
 */
final class HeraldServer implements AutoCloseable {
  private static final String DEFAULT_BIN = "/work/bin/herald-server";
  private static final Pattern PORT = Pattern.compile("\"grpc_port\"\\s*:\\s*(\\d+)");

  private final Path root;
  private final Path dataDir;
  private final List<String> extraFlags;
  private Process process;
  private int port;

  HeraldServer(String... extraFlags) throws IOException {
    this.root = Files.createTempDirectory("herald-java-test");
    this.dataDir = root.resolve("data");
    this.extraFlags = List.of(extraFlags);
    start();
  }

  static String binary() {
    String bin = System.getenv("HERALD_SERVER_BIN");
    return bin == null || bin.isEmpty() ? DEFAULT_BIN : bin;
  }

  String target() {
    return "127.0.0.1:" + port;
  }

  void start() throws IOException {
    Path ready = root.resolve("ready-" + UUID.randomUUID() + ".json");
    List<String> cmd = new ArrayList<>(List.of(binary(), "--listen=127.0.0.1:" + port,
        "--metrics_listen=127.0.0.1:0", "--data_dir=" + dataDir, "--ready_file=" + ready,
        "--log_level=warn", "--shutdown_grace_ms=1000"));
    cmd.addAll(extraFlags);
    File log = root.resolve("server.log").toFile();
    process = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!Files.exists(ready)) {
      if (!process.isAlive()) {
        throw new IOException("herald-server exited with " + process.exitValue() + ": "
            + Files.readString(log.toPath()));
      }
      if (System.nanoTime() > deadline) {
        throw new IOException("herald-server did not become ready");
      }
      sleep(20); // polling a file the server writes; there is no event to wait on
    }
    Matcher m = PORT.matcher(Files.readString(ready));
    if (!m.find()) {
      throw new IOException("no grpc_port in ready file");
    }
    port = Integer.parseInt(m.group(1));
  }

  void stop() throws InterruptedException {
    if (process == null) {
      return;
    }
    process.destroy(); // SIGTERM: graceful
    if (!process.waitFor(15, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    process = null;
  }

  /** SIGSTOP: connections stay open but nothing is answered (a hung broker). */
  void pause() throws Exception {
    new ProcessBuilder("kill", "-STOP", Long.toString(process.pid())).start().waitFor();
  }

  /** SIGCONT after {@link #pause()}. */
  void resume() throws Exception {
    new ProcessBuilder("kill", "-CONT", Long.toString(process.pid())).start().waitFor();
  }

  void restart() throws Exception {
    stop();
    start();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() throws Exception {
    stop();
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    }
  }
}
