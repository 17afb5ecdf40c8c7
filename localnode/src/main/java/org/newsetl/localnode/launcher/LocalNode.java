package org.newsetl.localnode.launcher;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts one Elasticsearch node from a home laid out like Elastic's distribution.
 *
 * Elastic's own start-up (org.elasticsearch.bootstrap.Elasticsearch) also installs native
 * checks that refuse to run as root and the entitlement agent; this launcher builds the same
 * Node through its public constructor, so the server code that answers requests is Elastic's.
 * HOME holds lib/, modules/ and launcher/ (shared by every local node); CONFIG holds
 * elasticsearch.yml (data and log paths, ports) and log4j2.properties of one node.
 * Usage: java --module-path HOME/lib --add-modules ALL-MODULE-PATH -cp launcher.jar
 *        org.newsetl.localnode.launcher.LocalNode HOME CONFIG
 */
public final class LocalNode {

    private LocalNode() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: LocalNode <elasticsearch home> <config dir>");
            System.exit(64);
        }
        Path home = Path.of(args[0]).toAbsolutePath().normalize();
        Path config = Path.of(args[1]).toAbsolutePath().normalize();
        Settings initial = Settings.builder().put("path.home", home.toString()).build();
        // Elasticsearch's own classes log while settings load: console logging first, then
        // config/log4j2.properties (console too; `newsetl es start` sends it to a log file).
        LogConfigurator.registerErrorListener();
        LogConfigurator.configureESLogging();
        LogConfigurator.configureWithoutConfig(initial);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            initial,
            Map.of(),
            config,
            () -> "newsetl-local"
        );
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment, true);

        PluginsLoader plugins = PluginsLoader.createPluginsLoader(
            PluginsLoader.loadModulesBundles(environment.modulesDir(), false),
            PluginsLoader.loadPluginsBundles(environment.pluginsDir(), false),
            Map.of()
        );
        Node node = new Node(environment, plugins);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.prepareForClose();
                node.close();
                if (node.awaitClose(10, TimeUnit.SECONDS) == false) {
                    System.err.println("newsetl-local: node did not close within 10s");
                }
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "newsetl-local-shutdown"));

        node.start();
        System.out.println("newsetl-local: node started");
        // The main thread is not a daemon: it keeps the JVM alive until SIGTERM.
        stopped.await();
    }
}
