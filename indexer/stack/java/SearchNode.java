import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single OpenSearch node for development and tests, run from the Maven jars.
 *
 * <p>Arguments are node settings written as {@code key=value}. The modules are
 * the ones the indexer relies on: HTTP, language analysers, painless, reindex
 * and the extra field types. SIGTERM closes the node before the JVM exits.
 */
public final class SearchNode extends Node {
  private static final Collection<Class<? extends Plugin>> MODULES =
      List.of(
          Netty4Plugin.class,
          CommonAnalysisPlugin.class,
          PainlessPlugin.class,
          ReindexPlugin.class,
          MapperExtrasPlugin.class);

  private static final long CLOSE_TIMEOUT_S = 20;

  private SearchNode(Environment environment) {
    super(environment, MODULES, true);
  }

  public static void main(String[] args) throws InterruptedException {
    Settings settings = parse(args);
    Environment environment =
        InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), null, () -> settings.get("node.name", "node-1"));
    SearchNode node = new SearchNode(environment);

    CountDownLatch closed = new CountDownLatch(1);
    Thread hook = new Thread(() -> close(node, closed), "search-node-close");
    Runtime.getRuntime().addShutdownHook(hook);

    try {
      node.start();
    } catch (Exception e) {
      e.printStackTrace();
      System.exit(1);
    }
    closed.await();
  }

  private static Settings parse(String[] args) {
    Settings.Builder builder = Settings.builder();
    for (String arg : args) {
      int equals = arg.indexOf('=');
      if (equals < 1) {
        throw new IllegalArgumentException("expected key=value, got: " + arg);
      }
      builder.put(arg.substring(0, equals), arg.substring(equals + 1));
    }
    return builder.build();
  }

  private static void close(Node node, CountDownLatch closed) {
    try {
      node.close();
      node.awaitClose(CLOSE_TIMEOUT_S, TimeUnit.SECONDS);
    } catch (Exception e) {
      e.printStackTrace();
    } finally {
      LogManager.shutdown();
      closed.countDown();
    }
  }
}
