package dev.herald.client;

/** Where to start (or seek) reading a partition. */
public final class StartPosition {
  enum Kind { EARLIEST, LATEST, COMMITTED, OFFSET, TIMESTAMP }

  final Kind kind;
  final long value;

  private StartPosition(Kind kind, long value) {
    this.kind = kind;
    this.value = value;
  }

  /** The oldest retained record. */
  public static StartPosition earliest() {
    return new StartPosition(Kind.EARLIEST, 0);
  }

  /** Only records appended from now on. */
  public static StartPosition latest() {
    return new StartPosition(Kind.LATEST, 0);
  }

  /** The group's committed offset (falling back to the reset position). */
  public static StartPosition committed() {
    return new StartPosition(Kind.COMMITTED, 0);
  }

  /** An exact offset; records before it are never delivered. */
  public static StartPosition offset(long offset) {
    return new StartPosition(Kind.OFFSET, offset);
  }

  /** The first record whose timestamp is at or after {@code timestampMs}. */
  public static StartPosition timestamp(long timestampMs) {
    return new StartPosition(Kind.TIMESTAMP, timestampMs);
  }

  dev.herald.v1.StartPosition toProto() {
    var b = dev.herald.v1.StartPosition.newBuilder();
    switch (kind) {
      case EARLIEST -> b.setNamed(dev.herald.v1.StartPosition.Named.NAMED_EARLIEST);
      case LATEST -> b.setNamed(dev.herald.v1.StartPosition.Named.NAMED_LATEST);
      case COMMITTED -> b.setNamed(dev.herald.v1.StartPosition.Named.NAMED_COMMITTED);
      case OFFSET -> b.setOffset(value);
      case TIMESTAMP -> b.setTimestampMs(value);
    }
    return b.build();
  }

  @Override
  public String toString() {
    return kind == Kind.OFFSET || kind == Kind.TIMESTAMP ? kind + "(" + value + ")" : kind.name();
  }
}
