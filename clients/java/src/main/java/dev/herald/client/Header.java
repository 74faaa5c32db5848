package dev.herald.client;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A record header. Keys need not be unique (as in Kafka). */
public record Header(String key, byte[] value) {
  /** A header with a UTF-8 string value. */
  public static Header of(String key, String value) {
    return new Header(key, value.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Header h && key.equals(h.key) && Arrays.equals(value, h.value);
  }

  @Override
  public int hashCode() {
    return key.hashCode() * 31 + Arrays.hashCode(value);
  }

  @Override
  public String toString() {
    return key + "=" + Arrays.toString(value);
  }
}
