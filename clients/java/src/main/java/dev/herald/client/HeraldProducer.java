package dev.herald.client;

import dev.herald.v1.Acks;
import dev.herald.v1.AdminGrpc;
import dev.herald.v1.BrokerGrpc;
import dev.herald.v1.DescribeTopicRequest;
import dev.herald.v1.InitProducerRequest;
import dev.herald.v1.InitProducerResponse;
import dev.herald.v1.ProduceRequest;
import dev.herald.v1.ProduceResponse;
import dev.herald.v1.Record;
import dev.herald.v1.RecordBatch;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sends records to Herald topics. Thread safe; one instance per application is typical.
 *
 * <p>{@link #send} queues a record and returns a future. A sender thread seals per-partition
 * batches (after {@code linger} or at {@code maxBatchBytes}) and pipelines them on one
 * bidirectional Produce stream, at most {@code maxInFlight} unacknowledged batches at a time, each
 * with its own request id (and, when idempotent, at most 5 of one partition: the broker
 * deduplicates retries of a partition's last 5 batches only). Queued-but-unacknowledged records
 * are bounded by {@code bufferMemory}: a send that finds no room waits up to {@code maxBlock},
 * then fails with RESOURCE_EXHAUSTED.
 *
 * <p>Partitioning: explicit partition, else Kafka murmur2 of the key ({@code (h & 0x7fffffff) %
 * n}), else a sticky partition per topic that moves when its batch is sealed.
 *
 * <p>Delivery: idempotent by default. The producer calls InitProducer once, then numbers each
 * batch per partition ({@code base_sequence}); when the stream breaks (UNAVAILABLE, e.g. a broker
 * restart) unacknowledged batches are re-sent, in order and with the same sequence numbers, after
 * an exponential backoff, so the broker stores each batch once ({@link RecordMetadata#duplicate()}
 * marks a recognised retry). Futures complete on a dedicated callback thread, never on gRPC
 * threads, in acknowledgement order.
 *
 * <pre>{@code
 * try (HeraldProducer producer = HeraldProducer.builder("127.0.0.1:7070").build()) {
 *   producer.send(ProducerRecord.of("orders", "key", "value"))
 *       .thenAccept(md -> System.out.println(md.offset()));
 * }
 * }</pre>
 */
public final class HeraldProducer implements AutoCloseable {
  private static final int RECORD_OVERHEAD_BYTES = 16; // tags and lengths per record, upper bound
  /**
   * With idempotence on, at most this many batches of one partition are unacknowledged at a time.
   * The broker remembers only the last 5 batches of each producer and partition
   * (coordination/producer_state.h, kMaxRecordedBatches): a retry of an older batch cannot be
   * recognised as a duplicate (FAILED_PRECONDITION). Kafka has the same limit.
   */
  static final int MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION = 5;
  private static final Set<Status.Code> RETRYABLE = EnumSet.of(Status.Code.UNAVAILABLE,
      Status.Code.CANCELLED, Status.Code.ABORTED, Status.Code.RESOURCE_EXHAUSTED);

  /** Builder-style producer configuration; every setting has a default. */
  public static final class Builder {
    private final String target;
    private final ManagedChannel channel;
    private Acks acks = Acks.ACKS_ALL;
    private Duration linger = Duration.ofMillis(5);
    private int maxBatchBytes = 256 << 10;
    private long bufferMemory = 32L << 20;
    private Duration maxBlock = Duration.ofSeconds(60);
    private int maxInFlight = 32;
    private long maxInFlightBytes = 8L << 20;
    private Duration retryBackoff = Duration.ofMillis(100);
    private Duration retryBackoffMax = Duration.ofSeconds(2);
    private Duration deliveryTimeout = Duration.ofSeconds(120);
    private Duration requestTimeout = Duration.ofSeconds(30);
    private Duration rpcTimeout = HeraldAdmin.DEFAULT_RPC_TIMEOUT;
    private Duration metadataMaxAge = Duration.ofMinutes(5);
    private boolean idempotent = true;
    private String transactionalId = "";

    private Builder(String target, ManagedChannel channel) {
      this.target = target;
      this.channel = channel;
    }

    /** Acknowledgement level (default ACKS_ALL). ACKS_NONE disables idempotence. */
    public Builder acks(Acks v) { acks = v; return this; }

    /** How long a batch waits for more records before it is sent (default 5 ms; 0: at once). */
    public Builder linger(Duration v) { linger = v; return this; }

    /** A batch is sealed when it reaches this many bytes (default 256 KiB). */
    public Builder maxBatchBytes(int v) { maxBatchBytes = v; return this; }

    /** Bound on the bytes of queued, unacknowledged records (default 32 MiB). */
    public Builder bufferMemory(long v) { bufferMemory = v; return this; }

    /** How long {@link #send} waits for buffer room before RESOURCE_EXHAUSTED (default 60 s). */
    public Builder maxBlock(Duration v) { maxBlock = v; return this; }

    /**
     * Unacknowledged batches on the stream (default 32). When idempotent, also at most 5 of one
     * partition (the broker deduplicates retries of a partition's last 5 batches only).
     */
    public Builder maxInFlight(int v) { maxInFlight = v; return this; }

    /** Unacknowledged bytes on the stream (default 8 MiB). */
    public Builder maxInFlightBytes(long v) { maxInFlightBytes = v; return this; }

    /** First reconnect backoff (default 100 ms), doubling up to {@code max} (default 2 s). */
    public Builder retryBackoff(Duration first, Duration max) {
      retryBackoff = first;
      retryBackoffMax = max;
      return this;
    }

    /** A sealed batch not acknowledged within this fails with DEADLINE_EXCEEDED (120 s). */
    public Builder deliveryTimeout(Duration v) { deliveryTimeout = v; return this; }

    /** A stream whose oldest batch is unanswered this long is replaced (default 30 s). */
    public Builder requestTimeout(Duration v) { requestTimeout = v; return this; }

    /** Deadline of unary calls: DescribeTopic, InitProducer (default 10 s). */
    public Builder rpcTimeout(Duration v) { rpcTimeout = v; return this; }

    /** How long a topic's partition count is cached (default 5 min). */
    public Builder metadataMaxAge(Duration v) { metadataMaxAge = v; return this; }

    /** Idempotent produce (default true). */
    public Builder idempotent(boolean v) { idempotent = v; return this; }

    /** Stable id: a new producer with the same id fences the older one (default none). */
    public Builder transactionalId(String v) { transactionalId = v; return this; }

    /** Creates the producer and starts its sender thread. */
    public HeraldProducer build() {
      if (maxBatchBytes <= 0 || bufferMemory <= 0 || maxInFlight <= 0) {
        throw new HeraldException(Status.Code.INVALID_ARGUMENT, "sizes must be positive");
      }
      ManagedChannel ch = channel != null ? channel : Channels.open(target);
      return new HeraldProducer(this, ch, channel == null);
    }
  }

  private static final class Batch {
    final TopicPartition tp;
    final List<Record> records = new ArrayList<>();
    final List<CompletableFuture<RecordMetadata>> futures = new ArrayList<>();
    final long createdNanos = System.nanoTime();
    long bytes;
    long sealedNanos;
    long sentNanos;
    long requestId;
    long order = Long.MAX_VALUE; // first request id: retries go out in this order
    int baseSequence = -1; // assigned on first send, kept across retries

    Batch(TopicPartition tp) {
      this.tp = tp;
    }
  }

  private static final class Stream {
    ClientCallStreamObserver<ProduceRequest> requests;
  }

  private record Meta(int partitions, long fetchedNanos) {}

  private final Builder cfg;
  private final ManagedChannel channel;
  private final boolean ownsChannel;
  private final BrokerGrpc.BrokerStub brokerAsync;
  private final BrokerGrpc.BrokerBlockingStub brokerBlocking;
  private final AdminGrpc.AdminBlockingStub admin;
  private final ExecutorService callbacks;
  private final Thread sender;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  // All below guarded by lock.
  private final Map<TopicPartition, Batch> open = new LinkedHashMap<>();
  private final ArrayDeque<Batch> ready = new ArrayDeque<>();
  private final Map<Long, Batch> inFlight = new HashMap<>();
  private final Map<TopicPartition, Integer> nextSequence = new HashMap<>();
  private final Map<String, Meta> metadata = new HashMap<>();
  private final Map<String, Integer> sticky = new HashMap<>();
  private long inFlightBytes;
  private long buffered;
  private long nextRequestId;
  private Stream stream;
  private long reconnectAtNanos;
  private long backoffNanos;
  private long producerId = -1;
  private int producerEpoch;
  private boolean closing;
  private boolean stopped;

  private HeraldProducer(Builder cfg, ManagedChannel channel, boolean ownsChannel) {
    this.cfg = cfg;
    this.channel = channel;
    this.ownsChannel = ownsChannel;
    this.brokerAsync = BrokerGrpc.newStub(channel);
    this.brokerBlocking = BrokerGrpc.newBlockingStub(channel);
    this.admin = AdminGrpc.newBlockingStub(channel);
    this.backoffNanos = cfg.retryBackoff.toNanos();
    if (cfg.acks == Acks.ACKS_NONE) {
      cfg.idempotent = false; // no acknowledgement, nothing to deduplicate against
    }
    this.callbacks = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "herald-producer-callbacks");
      t.setDaemon(true);
      return t;
    });
    this.sender = new Thread(this::senderLoop, "herald-producer-sender");
    sender.setDaemon(true);
    sender.start();
  }

  /** Starts configuring a producer connected to {@code target} (host:port). */
  public static Builder builder(String target) {
    return new Builder(target, null);
  }

  /** Starts configuring a producer on an existing channel (left open by {@link #close()}). */
  public static Builder builder(ManagedChannel channel) {
    return new Builder(null, channel);
  }

  /**
   * Queues one record. The future completes with the record's metadata once the broker
   * acknowledged it, or exceptionally with a {@link HeraldException}: NOT_FOUND for an unknown
   * topic, RESOURCE_EXHAUSTED when the buffer stayed full for {@code maxBlock}, CANCELLED when the
   * producer closed first, DEADLINE_EXCEEDED after {@code deliveryTimeout}. May block up to
   * {@code maxBlock} (buffer full) or the RPC timeout (first use of a topic).
   */
  public CompletableFuture<RecordMetadata> send(ProducerRecord record) {
    CompletableFuture<RecordMetadata> future = new CompletableFuture<>();
    try {
      Record r = toProto(record);
      long size = r.getSerializedSize() + RECORD_OVERHEAD_BYTES;
      if (size > cfg.bufferMemory || size > Integer.MAX_VALUE) {
        throw new HeraldException(Status.Code.INVALID_ARGUMENT,
            "record of " + size + " bytes exceeds bufferMemory");
      }
      int count = record.partition() != null ? -1 : partitionsFor(record.topic());
      lock.lock();
      try {
        waitForRoomLocked(size);
        int part = record.partition() != null ? record.partition()
            : choosePartitionLocked(record.topic(), record.key(), count);
        TopicPartition tp = new TopicPartition(record.topic(), part);
        Batch b = open.get(tp);
        if (b != null && b.bytes + size > cfg.maxBatchBytes) {
          sealLocked(tp);
          b = null;
        }
        if (b == null) {
          b = new Batch(tp);
          open.put(tp, b);
        }
        b.records.add(r);
        b.futures.add(future);
        b.bytes += size;
        buffered += size;
        if (b.bytes >= cfg.maxBatchBytes || cfg.linger.isZero() || cfg.linger.isNegative()) {
          sealLocked(tp);
        }
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    } catch (RuntimeException e) {
      future.completeExceptionally(HeraldException.from(e));
    }
    return future;
  }

  /** A topic's partition count, cached for {@code metadataMaxAge}. */
  public int partitionsFor(String topic) {
    lock.lock();
    try {
      Meta m = metadata.get(topic);
      if (m != null && System.nanoTime() - m.fetchedNanos < cfg.metadataMaxAge.toNanos()) {
        return m.partitions;
      }
    } finally {
      lock.unlock();
    }
    int n;
    try {
      n = admin.withWaitForReady()
          .withDeadlineAfter(cfg.rpcTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .describeTopic(DescribeTopicRequest.newBuilder().setName(topic).build())
          .getTopic().getPartitionsCount();
    } catch (StatusRuntimeException e) {
      throw HeraldException.from(e);
    }
    lock.lock();
    try {
      metadata.put(topic, new Meta(n, System.nanoTime()));
    } finally {
      lock.unlock();
    }
    return n;
  }

  /**
   * Sends every queued record now and blocks until all records queued before the call are
   * resolved (acknowledged or failed).
   */
  public void flush() {
    flush(Duration.ofMillis(Long.MAX_VALUE));
  }

  /** Like {@link #flush()}, giving up with DEADLINE_EXCEEDED after {@code timeout}. */
  public void flush(Duration timeout) {
    List<CompletableFuture<RecordMetadata>> pending = new ArrayList<>();
    lock.lock();
    try {
      for (TopicPartition tp : new ArrayList<>(open.keySet())) {
        sealLocked(tp);
      }
      for (Batch b : allBatchesLocked()) {
        pending.addAll(b.futures);
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    try {
      CompletableFuture.allOf(pending.stream().map(f -> f.handle((m, e) -> null))
          .toArray(CompletableFuture[]::new)).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new HeraldException(Status.Code.DEADLINE_EXCEEDED, "flush timed out", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HeraldException(Status.Code.CANCELLED, "flush interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw HeraldException.from(e);
    }
  }

  /** Flushes (bounded by the delivery timeout), then stops; see {@link #close(Duration)}. */
  @Override
  public void close() {
    close(cfg.deliveryTimeout.plus(cfg.requestTimeout));
  }

  /**
   * Flushes for at most {@code timeout}, then stops the sender; records still pending fail with
   * CANCELLED. Idempotent.
   */
  public void close(Duration timeout) {
    HeraldException flushError = null;
    try {
      flush(timeout);
    } catch (HeraldException e) {
      flushError = e;
    }
    lock.lock();
    try {
      closing = true;
      stopped = true; // whatever the flush left unresolved fails now with CANCELLED
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    try {
      sender.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    callbacks.shutdown();
    try {
      callbacks.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (ownsChannel) {
      Channels.close(channel);
    }
    if (flushError != null && flushError.code() != Status.Code.DEADLINE_EXCEEDED) {
      throw flushError;
    }
  }

  // ---- record placement (caller threads) ----

  private static Record toProto(ProducerRecord rec) {
    if (rec.topic() == null || rec.topic().isEmpty()) {
      throw new HeraldException(Status.Code.INVALID_ARGUMENT, "record needs a topic");
    }
    Record.Builder b = Record.newBuilder().setTimestampMs(rec.timestampMs());
    if (rec.key() != null) {
      b.setKey(ByteString.copyFrom(rec.key()));
    }
    if (rec.value() != null) {
      b.setValue(ByteString.copyFrom(rec.value()));
    }
    for (Header h : rec.headers()) {
      b.addHeaders(dev.herald.v1.Header.newBuilder().setKey(h.key())
          .setValue(ByteString.copyFrom(h.value() == null ? new byte[0] : h.value())));
    }
    return b.build();
  }

  private void waitForRoomLocked(long size) {
    long deadline = System.nanoTime() + cfg.maxBlock.toNanos();
    while (true) {
      if (closing) {
        throw new HeraldException(Status.Code.CANCELLED, "producer is closed");
      }
      if (buffered + size <= cfg.bufferMemory) {
        return;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new HeraldException(Status.Code.RESOURCE_EXHAUSTED, "producer buffer full ("
            + buffered + " of " + cfg.bufferMemory + " bytes) for " + cfg.maxBlock);
      }
      try {
        changed.awaitNanos(left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new HeraldException(Status.Code.CANCELLED, "send interrupted", e);
      }
    }
  }

  private int choosePartitionLocked(String topic, byte[] key, int count) {
    if (key != null && key.length > 0) {
      return Murmur2.partitionForKey(key, count);
    }
    Integer s = sticky.get(topic);
    if (s == null || s >= count) {
      s = ThreadLocalRandom.current().nextInt(Math.max(count, 1));
      sticky.put(topic, s);
    }
    return s;
  }

  private void sealLocked(TopicPartition tp) {
    Batch b = open.remove(tp);
    b.sealedNanos = System.nanoTime();
    ready.addLast(b);
    Meta m = metadata.get(tp.topic());
    Integer s = sticky.get(tp.topic());
    if (m != null && s != null && s == tp.partition() && m.partitions > 1) {
      // Kafka's sticky partitioner: keyless records fill a batch, then move on.
      sticky.put(tp.topic(),
          (s + 1 + ThreadLocalRandom.current().nextInt(m.partitions - 1)) % m.partitions);
    }
  }

  private List<Batch> allBatchesLocked() {
    List<Batch> out = new ArrayList<>(open.values());
    out.addAll(ready);
    out.addAll(inFlight.values());
    return out;
  }

  // ---- sender thread ----

  private void senderLoop() {
    List<Runnable> done = new ArrayList<>();
    lock.lock();
    try {
      while (true) {
        if (closing && (stopped || open.isEmpty() && ready.isEmpty() && inFlight.isEmpty())) {
          break;
        }
        long now = System.nanoTime();
        for (TopicPartition tp : new ArrayList<>(open.keySet())) {
          if (now - open.get(tp).createdNanos >= cfg.linger.toNanos()) {
            sealLocked(tp);
          }
        }
        expireLocked(now, done);
        boolean reconnectDue = stream == null && !ready.isEmpty() && now - reconnectAtNanos >= 0;
        boolean init = reconnectDue && cfg.idempotent && producerId < 0;
        boolean connect = reconnectDue && !init;
        Stream stalled = null;
        if (stream != null) {
          writeReadyLocked(done);
          Batch oldest = oldestInFlightLocked();
          if (oldest != null && now - oldest.sentNanos > cfg.requestTimeout.toNanos()) {
            stalled = stream;
          }
        }
        if (!init && !connect && stalled == null && done.isEmpty()) {
          try {
            changed.awaitNanos(waitNanosLocked(now));
          } catch (InterruptedException e) {
            break;
          }
          continue;
        }
        lock.unlock();
        try {
          runCallbacks(done);
          if (stalled != null) {
            stalled.requests.cancel("stalled", null);
            onStreamEnd(stalled, new HeraldException(Status.Code.UNAVAILABLE, "stream stalled"));
          }
          if (init) {
            initProducer();
          }
          if (connect) {
            connect();
          }
        } finally {
          lock.lock();
        }
      }
    } finally {
      lock.unlock();
    }
    shutdown();
  }

  private long waitNanosLocked(long now) {
    long deadline = now + TimeUnit.SECONDS.toNanos(1);
    for (Batch b : open.values()) {
      deadline = Math.min(deadline, b.createdNanos + cfg.linger.toNanos());
    }
    Batch oldest = oldestInFlightLocked();
    if (oldest != null) {
      deadline = Math.min(deadline, oldest.sentNanos + cfg.requestTimeout.toNanos() + 1_000_000);
    }
    if (stream == null && !ready.isEmpty()) {
      deadline = Math.min(deadline, reconnectAtNanos);
    }
    return Math.max(deadline - now, 1_000_000);
  }

  private void expireLocked(long now, List<Runnable> done) {
    while (!ready.isEmpty() && now - ready.peekFirst().sealedNanos > cfg.deliveryTimeout.toNanos()) {
      Batch b = ready.pollFirst();
      failLocked(b, new HeraldException(Status.Code.DEADLINE_EXCEEDED, "batch for " + b.tp
          + " not acknowledged within " + cfg.deliveryTimeout), done);
    }
  }

  private Batch oldestInFlightLocked() {
    return inFlight.values().stream().min(Comparator.comparingLong(b -> b.requestId)).orElse(null);
  }

  private boolean windowOpenLocked(Batch b) {
    if (inFlight.size() >= cfg.maxInFlight) {
      return false;
    }
    // A single oversize batch may go alone so it cannot stall forever.
    return inFlight.isEmpty() || inFlightBytes + b.bytes <= cfg.maxInFlightBytes;
  }

  private int inFlightForLocked(TopicPartition tp) {
    int n = 0;
    for (Batch o : inFlight.values()) {
      if (o.tp.equals(tp)) {
        n++;
      }
    }
    return n;
  }

  /**
   * Writes ready batches, in queue order, while the window is open. When idempotent, a partition
   * that already has {@link #MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION} unacknowledged batches is
   * skipped, and so is every later batch of it (a partition's batches never overtake each other);
   * other partitions' batches still go.
   */
  private void writeReadyLocked(List<Runnable> done) {
    Set<TopicPartition> held = new HashSet<>();
    Iterator<Batch> it = ready.iterator();
    while (it.hasNext()) {
      Batch b = it.next();
      if (held.contains(b.tp)) {
        continue;
      }
      if (cfg.idempotent && inFlightForLocked(b.tp) >= MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION) {
        held.add(b.tp);
        continue;
      }
      if (!windowOpenLocked(b)) {
        return;
      }
      b.requestId = ++nextRequestId;
      b.order = Math.min(b.order, b.requestId);
      b.sentNanos = System.nanoTime();
      ProduceRequest.Builder req = ProduceRequest.newBuilder().setRequestId(b.requestId)
          .setTopic(b.tp.topic()).setPartition(b.tp.partition())
          .setBatch(RecordBatch.newBuilder().addAllRecords(b.records)).setAcks(cfg.acks);
      if (cfg.idempotent) {
        if (b.baseSequence < 0) {
          b.baseSequence = nextSequence.getOrDefault(b.tp, 0);
          nextSequence.put(b.tp, b.baseSequence + b.records.size());
        }
        req.setProducerId(producerId).setProducerEpoch(producerEpoch)
            .setBaseSequence(b.baseSequence);
      }
      try {
        stream.requests.onNext(req.build()); // buffered by gRPC; the window bounds it
      } catch (RuntimeException e) {
        return; // b stays queued; the stream is gone and its onError re-queues the rest
      }
      it.remove();
      if (cfg.acks == Acks.ACKS_NONE) {
        buffered -= b.bytes; // nobody answers: resolve on write
        for (int i = 0; i < b.records.size(); i++) {
          CompletableFuture<RecordMetadata> f = b.futures.get(i);
          RecordMetadata md = new RecordMetadata(b.tp.topic(), b.tp.partition(), -1,
              b.records.get(i).getTimestampMs(), false);
          done.add(() -> f.complete(md));
        }
        continue;
      }
      inFlight.put(b.requestId, b);
      inFlightBytes += b.bytes;
    }
  }

  private void initProducer() {
    try {
      InitProducerResponse resp = brokerBlocking.withWaitForReady()
          .withDeadlineAfter(cfg.rpcTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .initProducer(InitProducerRequest.newBuilder()
              .setTransactionalId(cfg.transactionalId).build());
      lock.lock();
      try {
        producerId = resp.getProducerId();
        producerEpoch = resp.getProducerEpoch();
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    } catch (StatusRuntimeException e) {
      lock.lock();
      try {
        scheduleReconnectLocked();
      } finally {
        lock.unlock();
      }
    }
  }

  private void connect() {
    Stream s = new Stream();
    lock.lock();
    try {
      if (stopped || closing && ready.isEmpty()) {
        return;
      }
      s.requests = (ClientCallStreamObserver<ProduceRequest>) brokerAsync.produce(
          new StreamObserver<ProduceResponse>() {
            @Override
            public void onNext(ProduceResponse resp) {
              onResponse(s, resp);
            }

            @Override
            public void onError(Throwable t) {
              onStreamEnd(s, HeraldException.from(t));
            }

            @Override
            public void onCompleted() {
              onStreamEnd(s, new HeraldException(Status.Code.UNAVAILABLE, "stream ended"));
            }
          });
      stream = s;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void onResponse(Stream s, ProduceResponse resp) {
    List<Runnable> done = new ArrayList<>();
    lock.lock();
    try {
      Batch b = s == stream ? inFlight.remove(resp.getRequestId()) : null;
      if (b == null) {
        return;
      }
      inFlightBytes -= b.bytes;
      backoffNanos = cfg.retryBackoff.toNanos(); // the stream works
      Status.Code code = resp.hasError() ? Status.fromCodeValue(resp.getError().getCode()).getCode()
          : Status.Code.OK;
      if (code == Status.Code.UNAVAILABLE || code == Status.Code.OUT_OF_RANGE
          && cfg.idempotent && earlierPendingLocked(b)) {
        // Retried with the same sequence. An out-of-order rejection is expected while an
        // earlier batch of the partition is being retried: it goes again after that one.
        requeueLocked(List.of(b));
      } else if (code != Status.Code.OK) {
        if (code == Status.Code.NOT_FOUND || code == Status.Code.INVALID_ARGUMENT) {
          metadata.remove(b.tp.topic()); // describe again on the next send
        }
        failLocked(b, HeraldException.fromInBand(resp.getError()), done);
      } else {
        buffered -= b.bytes;
        for (int i = 0; i < b.records.size(); i++) {
          long ts = b.records.get(i).getTimestampMs();
          RecordMetadata md = new RecordMetadata(b.tp.topic(), resp.getPartition(),
              resp.getBaseOffset() + i, ts != 0 ? ts : resp.getLogAppendTimeMs(),
              resp.getDuplicate());
          CompletableFuture<RecordMetadata> f = b.futures.get(i);
          done.add(() -> f.complete(md));
        }
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    runCallbacks(done);
  }

  private void onStreamEnd(Stream s, HeraldException error) {
    List<Runnable> done = new ArrayList<>();
    lock.lock();
    try {
      if (s != stream) {
        return; // already given up (stalled, replaced or closed)
      }
      stream = null;
      List<Batch> unacked = new ArrayList<>(inFlight.values());
      unacked.sort(Comparator.comparingLong(b -> b.requestId));
      inFlight.clear();
      inFlightBytes = 0;
      if (RETRYABLE.contains(error.code()) || error.code() == Status.Code.OK) {
        requeueLocked(unacked);
      } else {
        for (Batch b : unacked) {
          failLocked(b, error, done);
        }
      }
      scheduleReconnectLocked();
    } finally {
      lock.unlock();
    }
    runCallbacks(done);
  }

  /** Puts batches back into the ready queue, ordered by first send (so by sequence). */
  private void requeueLocked(List<Batch> batches) {
    List<Batch> all = new ArrayList<>(batches);
    all.addAll(ready);
    all.sort(Comparator.comparingLong(x -> x.order)); // stable: unsent batches keep FIFO
    ready.clear();
    ready.addAll(all);
  }

  private boolean earlierPendingLocked(Batch b) {
    for (Batch o : ready) {
      if (o.tp.equals(b.tp) && o.baseSequence >= 0 && o.baseSequence < b.baseSequence) {
        return true;
      }
    }
    for (Batch o : inFlight.values()) {
      if (o.tp.equals(b.tp) && o.baseSequence < b.baseSequence) {
        return true;
      }
    }
    return false;
  }

  private void scheduleReconnectLocked() {
    double jitter = 0.8 + 0.4 * ThreadLocalRandom.current().nextDouble();
    reconnectAtNanos = System.nanoTime() + (long) (backoffNanos * jitter);
    backoffNanos = Math.min(backoffNanos * 2, cfg.retryBackoffMax.toNanos());
    changed.signalAll();
  }

  private void failLocked(Batch b, HeraldException e, List<Runnable> done) {
    buffered -= b.bytes;
    for (CompletableFuture<RecordMetadata> f : b.futures) {
      done.add(() -> f.completeExceptionally(e));
    }
  }

  private void runCallbacks(List<Runnable> done) {
    if (done.isEmpty()) {
      return;
    }
    List<Runnable> batch = new ArrayList<>(done);
    done.clear();
    try {
      callbacks.execute(() -> batch.forEach(Runnable::run));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      batch.forEach(Runnable::run); // closed: complete inline
    }
  }

  private void shutdown() {
    List<Runnable> done = new ArrayList<>();
    Stream s;
    lock.lock();
    try {
      stopped = true;
      s = stream;
      stream = null;
      HeraldException e = new HeraldException(Status.Code.CANCELLED,
          "producer closed before delivery");
      for (Batch b : allBatchesLocked()) {
        failLocked(b, e, done);
      }
      open.clear();
      ready.clear();
      inFlight.clear();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    if (s != null) {
      try {
        s.requests.onCompleted();
      } catch (RuntimeException ignored) {
        // already cancelled
      }
    }
    runCallbacks(done);
  }
}

