package dev.herald.client;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The one exception type of the Herald client: unchecked, and always carrying the gRPC status
 * code of the failure, whether it came from the broker (a failed RPC or an in-band error) or from
 * the client itself (e.g. {@link Status.Code#RESOURCE_EXHAUSTED} for a full producer buffer).
 */
public class HeraldException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final Status.Code code;

  /** Creates an exception with the given code and message. */
  public HeraldException(Status.Code code, String message) {
    this(code, message, null);
  }

  /** Creates an exception with the given code, message and cause. */
  public HeraldException(Status.Code code, String message, Throwable cause) {
    super(code + ": " + message, cause);
    this.code = code;
  }

  /** The gRPC status code, e.g. {@code NOT_FOUND} for an unknown topic. */
  public Status.Code code() {
    return code;
  }

  /**
   * Converts any throwable to a HeraldException, keeping the gRPC code of a {@link
   * StatusRuntimeException} / {@link StatusException} (unwrapping completion and execution
   * wrappers); anything else becomes {@code UNKNOWN}.
   */
  public static HeraldException from(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof HeraldException he) {
      return he;
    }
    Status status = Status.fromThrowable(t);
    String msg = status.getDescription() != null ? status.getDescription() : String.valueOf(t);
    return new HeraldException(status.getCode(), msg, t);
  }

  /** Converts an in-band {@code herald.v1.Error} (code as int) to an exception. */
  static HeraldException fromInBand(dev.herald.v1.Error error) {
    return new HeraldException(Status.fromCodeValue(error.getCode()).getCode(), error.getMessage());
  }
}
