package dev.herald.client;

import dev.herald.v1.Assignment;
import dev.herald.v1.BrokerGrpc;
import dev.herald.v1.ConsumedBatch;
import dev.herald.v1.Credit;
import dev.herald.v1.Heartbeat;
import dev.herald.v1.Revoke;
import dev.herald.v1.RevokeDone;
import dev.herald.v1.Seek;
import dev.herald.v1.SeekResult;
import dev.herald.v1.SubscribeRequest;
import dev.herald.v1.SubscribeResponse;
import dev.herald.v1.SubscribeStart;
import dev.herald.v1.TimestampType;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Reads records over one credit-based Subscribe stream. Not meant for concurrent {@link #poll}
 * calls (like Kafka's consumer), but {@link #close()} may be called from any thread.
 *
 * <p>Two modes: {@link #subscribe} joins the builder's group, whose coordinator assigns
 * partitions (cooperative rebalancing, reported to the {@link RebalanceListener}); {@link #assign}
 * reads explicit partitions from explicit positions. Records are buffered up to {@code
 * maxBufferedRecords} / {@code maxBufferedBytes}: the broker only sends while the consumer has
 * credit, and credit is returned as the application polls.
 *
 * <p>Per-partition cursors survive reconnects: when the stream breaks (UNAVAILABLE, e.g. a broker
 * restart) the consumer reconnects with backoff, resumes each partition at its cursor and drops
 * any record it already delivered, so each record is returned once.
 *
 * <p>Commits (group mode): auto-commit (default) commits the positions of records returned by
 * earlier polls every {@code autoCommitInterval}, on revoke and on close; manual mode commits only
 * in {@link #commitSync}. A partition's position is the offset after the last record returned.
 *
 * <pre>{@code
 * try (HeraldConsumer c = HeraldConsumer.builder("127.0.0.1:7070").group("billing").build()) {
 *   c.subscribe(List.of("orders"));
 *   while (running) {
 *     for (ConsumerRecord r : c.poll(Duration.ofSeconds(1))) { handle(r); }
 *   }
 * }
 * }</pre>
 */
public final class HeraldConsumer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(HeraldConsumer.class.getName());
  private static final int BATCH_OVERHEAD_BYTES = 64;
  private static final Set<Status.Code> RECONNECT = EnumSet.of(Status.Code.UNAVAILABLE,
      Status.Code.DEADLINE_EXCEEDED, Status.Code.CANCELLED, Status.Code.INTERNAL);

  /** Builder-style consumer configuration; every setting has a default. */
  public static final class Builder {
    private final String target;
    private final ManagedChannel channel;
    private String group = "";
    private String instanceId = "";
    private String clientId = "herald-java";
    private RebalanceListener listener = new RebalanceListener() {};
    private boolean autoCommit = true;
    private Duration autoCommitInterval = Duration.ofSeconds(5);
    private StartPosition autoOffsetReset = StartPosition.latest();
    private long maxBufferedRecords = 10_000;
    private long maxBufferedBytes = 16L << 20;
    private int maxPollRecords = 500;
    private Duration sessionTimeout = Duration.ZERO;
    private Duration heartbeatInterval = Duration.ofSeconds(3);
    private Duration reconnectBackoff = Duration.ofMillis(100);
    private Duration reconnectBackoffMax = Duration.ofSeconds(2);
    private int maxReconnectAttempts = 100;
    private Duration rpcTimeout = HeraldAdmin.DEFAULT_RPC_TIMEOUT;

    private Builder(String target, ManagedChannel channel) {
      this.target = target;
      this.channel = channel;
    }

    /** Consumer group: needed for {@link #subscribe} and for commits. */
    public Builder group(String v) { group = v; return this; }

    /** Static membership id: a reconnect within the session timeout keeps the assignment. */
    public Builder instanceId(String v) { instanceId = v; return this; }

    /** Client id reported to the broker (default "herald-java"). */
    public Builder clientId(String v) { clientId = v; return this; }

    /** Rebalance callbacks (group mode). */
    public Builder rebalanceListener(RebalanceListener v) { listener = v; return this; }

    /** Auto-commit (default true; group mode only). */
    public Builder autoCommit(boolean v) { autoCommit = v; return this; }

    /** Auto-commit period (default 5 s). */
    public Builder autoCommitInterval(Duration v) { autoCommitInterval = v; return this; }

    /** Where a group starts without a committed offset: earliest or latest (default). */
    public Builder autoOffsetReset(StartPosition v) { autoOffsetReset = v; return this; }

    /** Bound on buffered records (default 10000) = the record credit. */
    public Builder maxBufferedRecords(long v) { maxBufferedRecords = v; return this; }

    /** Bound on buffered bytes (default 16 MiB) = the byte credit. */
    public Builder maxBufferedBytes(long v) { maxBufferedBytes = v; return this; }

    /** Most records one poll returns (default 500). */
    public Builder maxPollRecords(int v) { maxPollRecords = v; return this; }

    /** Group session timeout (default: the broker's). */
    public Builder sessionTimeout(Duration v) { sessionTimeout = v; return this; }

    /** Heartbeat period of a group member (default 3 s). */
    public Builder heartbeatInterval(Duration v) { heartbeatInterval = v; return this; }

    /** Reconnect backoff: first (100 ms) and max (2 s). */
    public Builder reconnectBackoff(Duration first, Duration max) {
      reconnectBackoff = first;
      reconnectBackoffMax = max;
      return this;
    }

    /** Consecutive failed reconnects before poll fails (default 100). */
    public Builder maxReconnectAttempts(int v) { maxReconnectAttempts = v; return this; }

    /** Deadline of unary calls (commits, offsets; default 10 s). */
    public Builder rpcTimeout(Duration v) { rpcTimeout = v; return this; }

    /** Creates the consumer; nothing is read before {@link #subscribe} or {@link #assign}. */
    public HeraldConsumer build() {
      ManagedChannel ch = channel != null ? channel : Channels.open(target);
      return new HeraldConsumer(this, ch, channel == null);
    }
  }

  private static final class PartState {
    StartPosition start;
    long fetch = -1; // next offset to buffer; -1 unknown
    long position = -1; // next offset handed to the application; -1 unknown
    boolean seeking; // a Seek is on the wire: drop its batches until the SeekResult
    boolean revoked; // revoke received, not yet confirmed

    PartState(StartPosition start) {
      this.start = start;
      if (start.kind == StartPosition.Kind.OFFSET) {
        fetch = position = start.value;
      }
    }
  }

  private static final class Chunk {
    final TopicPartition tp;
    final List<ConsumerRecord> records;
    final long creditRecords;
    final long creditBytes;
    int next;

    Chunk(TopicPartition tp, List<ConsumerRecord> records, long creditRecords, long creditBytes) {
      this.tp = tp;
      this.records = records;
      this.creditRecords = creditRecords;
      this.creditBytes = creditBytes;
    }
  }

  private static final class Sub {
    ClientCallStreamObserver<SubscribeRequest> requests;
    boolean delivered;
  }

  private record Event(Sub stream, long generation, List<TopicPartition> partitions,
      boolean revoke) {}

  private final Builder cfg;
  private final ManagedChannel channel;
  private final boolean ownsChannel;
  private final BrokerGrpc.BrokerStub broker;
  private final HeraldAdmin admin;
  private final ScheduledExecutorService timer;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  // All below guarded by lock.
  private Map<TopicPartition, PartState> parts = new LinkedHashMap<>();
  private List<String> groupTopics; // null: assign mode
  private final ArrayDeque<Chunk> buffer = new ArrayDeque<>();
  private final ArrayDeque<Event> events = new ArrayDeque<>();
  private long bufRecords;
  private long bufBytes;
  private long creditRecords; // returned by the application, not yet granted
  private long creditBytes;
  private Sub stream;
  private long generation;
  private String memberId = "";
  private HeraldException fatal;
  private boolean closed;
  private int attempts;
  private long backoffNanos;
  private long nextAutoCommitNanos;

  private HeraldConsumer(Builder cfg, ManagedChannel channel, boolean ownsChannel) {
    this.cfg = cfg;
    this.channel = channel;
    this.ownsChannel = ownsChannel;
    this.broker = BrokerGrpc.newStub(channel);
    this.admin = HeraldAdmin.create(channel, cfg.rpcTimeout);
    this.backoffNanos = cfg.reconnectBackoff.toNanos();
    this.nextAutoCommitNanos = System.nanoTime() + cfg.autoCommitInterval.toNanos();
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "herald-consumer-timer");
      t.setDaemon(true);
      return t;
    });
    long hb = cfg.heartbeatInterval.toMillis();
    timer.scheduleAtFixedRate(this::heartbeat, hb, hb, TimeUnit.MILLISECONDS);
  }

  /** Starts configuring a consumer connected to {@code target} (host:port). */
  public static Builder builder(String target) {
    return new Builder(target, null);
  }

  /** Starts configuring a consumer on an existing channel (left open by {@link #close()}). */
  public static Builder builder(ManagedChannel channel) {
    return new Builder(null, channel);
  }

  /** Joins the builder's group for {@code topics}; the coordinator assigns partitions. */
  public void subscribe(Collection<String> topics) {
    if (cfg.group.isEmpty()) {
      throw new HeraldException(Status.Code.INVALID_ARGUMENT, "subscribe needs a group");
    }
    restartWith(() -> {
      parts = new LinkedHashMap<>();
      groupTopics = List.copyOf(topics);
    });
  }

  /**
   * Reads exactly these partitions from these positions (no group coordination; commits, if a
   * group is set, are standalone). Timestamp positions are resolved to offsets first.
   */
  public void assign(Map<TopicPartition, StartPosition> partitions) {
    Map<TopicPartition, PartState> next = new LinkedHashMap<>();
    partitions.forEach((tp, pos) -> next.put(tp, new PartState(resolve(tp, pos))));
    restartWith(() -> {
      parts = next;
      groupTopics = null;
    });
  }

  /**
   * Moves an assigned partition to {@code position} while streaming: buffered records of it are
   * dropped, and no record before the target is returned afterwards.
   */
  public void seek(TopicPartition tp, StartPosition position) {
    StartPosition pos = resolve(tp, position);
    lock.lock();
    try {
      PartState st = parts.get(tp);
      if (st == null || st.revoked) {
        throw new HeraldException(Status.Code.FAILED_PRECONDITION, tp + " is not assigned");
      }
      dropBufferedLocked(Set.of(tp));
      PartState fresh = new PartState(pos);
      st.start = pos;
      st.fetch = fresh.fetch;
      st.position = fresh.position;
      if (stream != null) {
        st.seeking = true;
        sendLocked(stream, SubscribeRequest.newBuilder().setSeek(Seek.newBuilder()
            .setTopic(tp.topic()).setPartition(tp.partition()).setPosition(pos.toProto())).build());
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits up to {@code timeout} for records and returns at most {@code maxPollRecords} of them
   * (empty on timeout). Runs rebalance callbacks and auto-commits on the calling thread. Throws
   * the error that ended the subscription (e.g. ABORTED when fenced from the group).
   */
  public ConsumerRecords poll(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    maybeAutoCommit();
    lock.lock();
    try {
      while (true) {
        if (!events.isEmpty()) {
          lock.unlock();
          try {
            runEvents();
          } finally {
            lock.lock();
          }
          continue;
        }
        if (closed) {
          throw new HeraldException(Status.Code.CANCELLED, "consumer is closed");
        }
        if (fatal != null) {
          throw fatal;
        }
        if (!buffer.isEmpty()) {
          ConsumerRecords out = takeLocked(cfg.maxPollRecords);
          grantCreditLocked();
          return out;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return ConsumerRecords.empty();
        }
        changed.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HeraldException(Status.Code.CANCELLED, "poll interrupted", e);
    } finally {
      lock.unlock();
    }
  }

  /**
   * An endless stream of records, polling with {@code pollTimeout} underneath; ends only by an
   * exception (or use {@code limit}/{@code takeWhile}).
   */
  public Stream<ConsumerRecord> stream(Duration pollTimeout) {
    return Stream.generate(() -> poll(pollTimeout)).flatMap(ConsumerRecords::stream);
  }

  /** Commits the positions of every assigned partition (records returned so far). */
  public void commitSync() {
    Map<TopicPartition, Long> offsets = new HashMap<>();
    lock.lock();
    try {
      parts.forEach((tp, st) -> {
        if (st.position >= 0) {
          offsets.put(tp, st.position);
        }
      });
    } finally {
      lock.unlock();
    }
    commitSync(offsets);
  }

  /**
   * Commits {@code offsets} (next offset to read, per partition) for the group, fenced by this
   * member's generation: ABORTED for a stale generation or a partition it does not own.
   */
  public void commitSync(Map<TopicPartition, Long> offsets) {
    if (cfg.group.isEmpty()) {
      throw new HeraldException(Status.Code.INVALID_ARGUMENT, "commit needs a group");
    }
    if (offsets.isEmpty()) {
      return;
    }
    long gen;
    String member;
    lock.lock();
    try {
      gen = groupTopics != null ? generation : 0;
      member = groupTopics != null ? memberId : "";
    } finally {
      lock.unlock();
    }
    admin.commitOffsets(cfg.group, offsets, gen, member);
  }

  /** The group's committed offsets for {@code partitions} (-1 where none). */
  public Map<TopicPartition, Long> committed(Collection<TopicPartition> partitions) {
    return admin.fetchCommittedOffsets(cfg.group, partitions);
  }

  /** Next offset to be returned for {@code tp}, or -1 when not yet known. */
  public long position(TopicPartition tp) {
    lock.lock();
    try {
      PartState st = parts.get(tp);
      return st == null ? -1 : st.position;
    } finally {
      lock.unlock();
    }
  }

  /** Partitions currently assigned (and not being revoked). */
  public Set<TopicPartition> assignment() {
    lock.lock();
    try {
      Set<TopicPartition> out = new HashSet<>();
      parts.forEach((tp, st) -> {
        if (!st.revoked) {
          out.add(tp);
        }
      });
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** The group generation of the latest assignment (0 before any). */
  public long generation() {
    lock.lock();
    try {
      return generation;
    } finally {
      lock.unlock();
    }
  }

  /** This member's id in the group ("" before the first assignment). */
  public String memberId() {
    lock.lock();
    try {
      return memberId;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Auto-commits (group mode), then leaves: closing the stream leaves the group at once, so its
   * partitions move to the other members. Idempotent.
   */
  @Override
  public void close() {
    boolean commit;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      commit = cfg.autoCommit && groupTopics != null && stream != null;
    } finally {
      lock.unlock();
    }
    if (commit) {
      try {
        commitSync();
      } catch (HeraldException e) {
        LOG.log(Level.FINE, "commit on close failed", e);
      }
    }
    Sub s;
    lock.lock();
    try {
      closed = true;
      s = stream;
      stream = null;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    if (s != null) {
      s.requests.cancel("consumer closed", null);
    }
    timer.shutdownNow();
    if (ownsChannel) {
      Channels.close(channel);
    }
  }

  // ---- internals ----

  private StartPosition resolve(TopicPartition tp, StartPosition pos) {
    if (pos.kind != StartPosition.Kind.TIMESTAMP) {
      return pos;
    }
    // Batches are served whole: resolve the time to an exact offset so earlier records of the
    // first batch can be trimmed.
    var offsets = admin.listOffsets(tp.topic(), pos, tp.partition());
    var p = offsets.get(tp.partition());
    if (p == null) {
      throw new HeraldException(Status.Code.NOT_FOUND, "no offsets for " + tp);
    }
    return StartPosition.offset(p.getOffset());
  }

  private void restartWith(Runnable update) {
    Sub old;
    lock.lock();
    try {
      if (closed) {
        throw new HeraldException(Status.Code.CANCELLED, "consumer is closed");
      }
      dropBufferedLocked(null); // before the update: it rewinds the old cursors, not new ones
      update.run();
      events.clear();
      fatal = null;
      attempts = 0;
      old = stream;
      stream = null;
      startStreamLocked();
    } finally {
      lock.unlock();
    }
    if (old != null) {
      old.requests.cancel("resubscribed", null);
    }
  }

  private void startStreamLocked() {
    Sub s = new Sub();
    s.requests = (ClientCallStreamObserver<SubscribeRequest>) broker.subscribe(
        new StreamObserver<SubscribeResponse>() {
          @Override
          public void onNext(SubscribeResponse resp) {
            onResponse(s, resp);
          }

          @Override
          public void onError(Throwable t) {
            onStreamEnd(s, HeraldException.from(t));
          }

          @Override
          public void onCompleted() {
            onStreamEnd(s, new HeraldException(Status.Code.UNAVAILABLE,
                "subscription ended by the broker"));
          }
        });
    stream = s;
    for (PartState st : parts.values()) {
      st.seeking = false; // the start request carries the latest cursor or seek target
    }
    creditRecords = 0; // a new stream starts afresh
    creditBytes = 0;
    SubscribeStart.Builder start = SubscribeStart.newBuilder().setCredit(Credit.newBuilder()
        .setRecords(Math.max(1, cfg.maxBufferedRecords - bufRecords))
        .setBytes(Math.max(1, cfg.maxBufferedBytes - bufBytes)));
    if (groupTopics != null) {
      start.setGroup(cfg.group).addAllTopics(groupTopics).setInstanceId(cfg.instanceId)
          .setClientId(cfg.clientId).setSessionTimeoutMs((int) cfg.sessionTimeout.toMillis())
          .setReset(cfg.autoOffsetReset.toProto().getNamed());
    } else {
      parts.forEach((tp, st) -> start.addPartitions(SubscribeStart.PartitionStart.newBuilder()
          .setTopic(tp.topic()).setPartition(tp.partition())
          .setPosition((st.fetch >= 0 ? StartPosition.offset(st.fetch) : st.start).toProto())));
    }
    sendLocked(s, SubscribeRequest.newBuilder().setStart(start).build());
  }

  private void sendLocked(Sub s, SubscribeRequest req) {
    try {
      s.requests.onNext(req); // buffered by gRPC; credit and the window bound what we send
    } catch (RuntimeException e) {
      // the call is already cancelled; onError reports why
    }
  }

  private void onStreamEnd(Sub s, HeraldException error) {
    lock.lock();
    try {
      if (s != stream || closed) {
        return;
      }
      stream = null;
      if (s.delivered) {
        attempts = 0;
        backoffNanos = cfg.reconnectBackoff.toNanos();
      }
      attempts++;
      if (!RECONNECT.contains(error.code()) || attempts > cfg.maxReconnectAttempts) {
        fatal = error;
        changed.signalAll();
        return;
      }
      long wait = (long) (backoffNanos * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
      backoffNanos = Math.min(backoffNanos * 2, cfg.reconnectBackoffMax.toNanos());
      timer.schedule(this::reconnect, wait, TimeUnit.NANOSECONDS);
    } finally {
      lock.unlock();
    }
  }

  private void reconnect() {
    lock.lock();
    try {
      if (!closed && stream == null && fatal == null) {
        startStreamLocked();
      }
    } finally {
      lock.unlock();
    }
  }

  private void heartbeat() {
    lock.lock();
    try {
      if (stream != null && groupTopics != null) {
        sendLocked(stream, SubscribeRequest.newBuilder()
            .setHeartbeat(Heartbeat.getDefaultInstance()).build());
      }
    } finally {
      lock.unlock();
    }
  }

  private void onResponse(Sub s, SubscribeResponse resp) {
    lock.lock();
    try {
      if (s != stream) {
        return;
      }
      switch (resp.getEventCase()) {
        case BATCHES -> {
          for (ConsumedBatch b : resp.getBatches().getBatchesList()) {
            onBatchLocked(b);
          }
          s.delivered = true;
        }
        case ASSIGNMENT -> onAssignmentLocked(s, resp.getAssignment());
        case REVOKE -> onRevokeLocked(s, resp.getRevoke());
        case SEEK_RESULT -> onSeekResultLocked(resp.getSeekResult());
        default -> { } // CommitResult: this client commits with the unary RPC
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void onAssignmentLocked(Sub s, Assignment a) {
    generation = a.getGeneration();
    memberId = a.getMemberId();
    Map<TopicPartition, PartState> next = new LinkedHashMap<>();
    List<TopicPartition> added = new ArrayList<>();
    for (var p : a.getPartitionsList()) {
      TopicPartition tp = TopicPartition.of(p);
      PartState st = parts.get(tp);
      if (st == null || st.revoked) {
        st = new PartState(StartPosition.committed());
        added.add(tp);
      }
      next.put(tp, st); // kept partitions keep their cursors (no duplicates after a reconnect)
    }
    Set<TopicPartition> gone = new HashSet<>(parts.keySet());
    gone.removeAll(next.keySet());
    parts = next;
    dropBufferedLocked(gone);
    if (!added.isEmpty()) {
      events.add(new Event(s, generation, added, false));
    }
  }

  private void onRevokeLocked(Sub s, Revoke r) {
    List<TopicPartition> revoked = new ArrayList<>();
    for (var p : r.getPartitionsList()) {
      TopicPartition tp = TopicPartition.of(p);
      revoked.add(tp);
      PartState st = parts.get(tp);
      if (st != null) {
        st.revoked = true; // the broker stops sending them; drop what is buffered
      }
    }
    dropBufferedLocked(new HashSet<>(revoked));
    events.add(new Event(s, r.getGeneration(), revoked, true));
  }

  private void onSeekResultLocked(SeekResult r) {
    PartState st = parts.get(new TopicPartition(r.getTopic(), r.getPartition()));
    if (st == null) {
      return;
    }
    st.seeking = false;
    if (r.hasError() && r.getError().getCode() != 0) {
      fatal = HeraldException.fromInBand(r.getError());
      return;
    }
    st.fetch = r.getOffset();
    st.position = r.getOffset();
  }

  private void onBatchLocked(ConsumedBatch b) {
    TopicPartition tp = new TopicPartition(b.getTopic(), b.getPartition());
    long creditRec = b.getRecordsCount();
    long creditB = b.getSerializedSize() + BATCH_OVERHEAD_BYTES;
    bufRecords += creditRec;
    bufBytes += creditB;
    PartState st = parts.get(tp);
    List<ConsumerRecord> records = new ArrayList<>();
    if (st != null && !st.seeking && !st.revoked) {
      boolean appendTime = b.getTimestampType() == TimestampType.TIMESTAMP_TYPE_LOG_APPEND_TIME;
      for (int i = 0; i < b.getRecordsCount(); i++) {
        long offset = b.getBaseOffset() + i;
        if (st.fetch >= 0 && offset < st.fetch) {
          continue; // before the cursor: trimmed start, or a replay after reconnect
        }
        var r = b.getRecords(i);
        long ts = appendTime || r.getTimestampMs() == 0 ? b.getAppendTimeMs() : r.getTimestampMs();
        List<Header> headers = new ArrayList<>(r.getHeadersCount());
        r.getHeadersList().forEach(h -> headers.add(new Header(h.getKey(), h.getValue().toByteArray())));
        records.add(new ConsumerRecord(tp.topic(), tp.partition(), offset, ts,
            r.getKey().toByteArray(), r.getValue().toByteArray(), headers));
      }
    }
    Chunk ch = new Chunk(tp, records, creditRec, creditB);
    if (records.isEmpty()) {
      releaseLocked(ch); // nothing to hand out: credit back now
      grantCreditLocked();
      return;
    }
    st.fetch = records.get(records.size() - 1).offset() + 1;
    if (st.position < 0) {
      st.position = records.get(0).offset();
    }
    buffer.addLast(ch);
  }

  private ConsumerRecords takeLocked(int max) {
    List<ConsumerRecord> out = new ArrayList<>();
    while (!buffer.isEmpty() && out.size() < max) {
      Chunk ch = buffer.peekFirst();
      int n = Math.min(ch.records.size() - ch.next, max - out.size());
      out.addAll(ch.records.subList(ch.next, ch.next + n));
      ch.next += n;
      PartState st = parts.get(ch.tp);
      if (st != null) {
        st.position = out.get(out.size() - 1).offset() + 1;
      }
      if (ch.next == ch.records.size()) {
        buffer.pollFirst();
        releaseLocked(ch);
      }
    }
    return new ConsumerRecords(out);
  }

  private void releaseLocked(Chunk ch) {
    bufRecords -= ch.creditRecords;
    bufBytes -= ch.creditBytes;
    creditRecords += ch.creditRecords;
    creditBytes += ch.creditBytes;
  }

  /** Drops buffered records of {@code tps} (all when null), returning their credit. */
  private void dropBufferedLocked(Set<TopicPartition> tps) {
    buffer.removeIf(ch -> {
      if (tps == null || tps.contains(ch.tp)) {
        releaseLocked(ch);
        PartState st = parts.get(ch.tp);
        if (st != null && st.fetch >= 0 && ch.next < ch.records.size()) {
          st.fetch = ch.records.get(ch.next).offset(); // re-read what was never handed out
        }
        return true;
      }
      return false;
    });
    grantCreditLocked();
  }

  private void grantCreditLocked() {
    if (creditRecords == 0 && creditBytes == 0 || stream == null) {
      return;
    }
    // Grant in chunks (a quarter of the buffer) to keep the request rate low.
    if (creditRecords * 4 < cfg.maxBufferedRecords && creditBytes * 4 < cfg.maxBufferedBytes
        && !buffer.isEmpty()) {
      return;
    }
    sendLocked(stream, SubscribeRequest.newBuilder().setCredit(
        Credit.newBuilder().setRecords(creditRecords).setBytes(creditBytes)).build());
    creditRecords = 0;
    creditBytes = 0;
  }

  /** Runs rebalance callbacks, commits on revoke and confirms it: on the polling thread. */
  private void runEvents() {
    while (true) {
      Event e;
      lock.lock();
      try {
        e = events.pollFirst();
      } finally {
        lock.unlock();
      }
      if (e == null) {
        return;
      }
      if (!e.revoke) {
        cfg.listener.onAssigned(e.partitions);
        continue;
      }
      cfg.listener.onRevoked(e.partitions);
      if (cfg.autoCommit) {
        Map<TopicPartition, Long> offsets = new HashMap<>();
        lock.lock();
        try {
          for (TopicPartition tp : e.partitions) {
            PartState st = parts.get(tp);
            if (st != null && st.position >= 0) {
              offsets.put(tp, st.position);
            }
          }
        } finally {
          lock.unlock();
        }
        try {
          commitSync(offsets);
        } catch (HeraldException ex) {
          LOG.log(Level.WARNING, "commit on revoke failed", ex);
        }
      }
      lock.lock();
      try {
        for (TopicPartition tp : e.partitions) {
          PartState st = parts.get(tp);
          if (st != null && st.revoked) {
            parts.remove(tp);
          }
        }
        if (e.stream == stream) {
          RevokeDone.Builder done = RevokeDone.newBuilder().setGeneration(e.generation);
          e.partitions.forEach(tp -> done.addPartitions(tp.toProto()));
          sendLocked(stream, SubscribeRequest.newBuilder().setRevokeDone(done).build());
        }
      } finally {
        lock.unlock();
      }
    }
  }

  private void maybeAutoCommit() {
    boolean due;
    lock.lock();
    try {
      due = cfg.autoCommit && groupTopics != null && stream != null
          && System.nanoTime() - nextAutoCommitNanos >= 0;
      if (due) {
        nextAutoCommitNanos = System.nanoTime() + cfg.autoCommitInterval.toNanos();
      }
    } finally {
      lock.unlock();
    }
    if (due) {
      try {
        commitSync();
      } catch (HeraldException e) {
        LOG.log(Level.FINE, "auto-commit failed", e); // e.g. ABORTED mid-rebalance; retried later
      }
    }
  }
}
