/*
 * Starts DynamoDB Local listening on 127.0.0.1 only.
 *
 * DynamoDBLocal.jar has no bind-address flag: its Jetty server listens on every interface, so
 * anyone on the developer's network could read and write the local tables. This launcher builds
 * the server as the jar's own main does (same command-line flags: -port, -inMemory, -dbPath,
 * -sharedDb, ...), sets the host of its Jetty connectors to 127.0.0.1, then starts it.
 *
 * It goes through reflection only, so it compiles without the jar on the class path (fast, and
 * the compiled class does not depend on the jar's version). local/dynamodb-local.ts compiles it
 * once into a cache directory and runs:
 *   java -cp <cache>:DynamoDBLocal.jar LoopbackDynamoDb -inMemory -sharedDb -port 8000
 */
import java.lang.reflect.Field;

public final class LoopbackDynamoDb {
  private static final String HOST = "127.0.0.1";
  /** Exit status when the server cannot start (e.g. its port is taken): local/dynamodb-local.ts retries. */
  private static final int BIND_FAILED = 3;

  public static void main(String[] args) throws Exception {
    Class<?> runner = Class.forName("com.amazonaws.services.dynamodbv2.local.main.ServerRunner");
    Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) args);
    // DynamoDBProxyServer keeps its org.eclipse.jetty.server.Server in a private field.
    Field field = proxy.getClass().getDeclaredField("server");
    field.setAccessible(true);
    Object jetty = field.get(proxy);
    Object[] connectors = (Object[]) jetty.getClass().getMethod("getConnectors").invoke(jetty);
    // Never fall back to listening on every interface.
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local has no connector to bind");
    for (Object connector : connectors) {
      connector.getClass().getMethod("setHost", String.class).invoke(connector, HOST);
      Object host = connector.getClass().getMethod("getHost").invoke(connector);
      if (!HOST.equals(host)) throw new IllegalStateException("cannot bind DynamoDB Local to " + HOST);
    }
    try {
      proxy.getClass().getMethod("start").invoke(proxy);
    } catch (java.lang.reflect.InvocationTargetException e) {
      // Jetty's threads are already running: without an exit the JVM would live on, listening
      // nowhere (a port taken between choosing it and binding it). The caller starts again.
      System.err.println("DynamoDB Local did not start: " + e.getCause());
      System.exit(BIND_FAILED);
    }
  }
}
