package org.newsetl.localnode.plugin;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.cjk.CJKAnalyzer;
import org.apache.lucene.analysis.de.GermanAnalyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.es.SpanishAnalyzer;
import org.apache.lucene.analysis.fr.FrenchAnalyzer;
import org.apache.lucene.analysis.it.ItalianAnalyzer;
import org.apache.lucene.analysis.nl.DutchAnalyzer;
import org.apache.lucene.analysis.pt.PortugueseAnalyzer;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.RestHandler;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * What the unpublished modules would give the local node: the language analyzers `english`,
 * `french`, `german`, `spanish`, `italian`, `portuguese`, `dutch` and `cjk` and the `asciifolding`
 * token filter (analysis-common), and GET|HEAD / (rest-root), so one index template and the
 * unchanged Python client work here and on a stock Elasticsearch 9 cluster alike.
 */
public class NewsetlLocalPlugin extends Plugin implements AnalysisPlugin, ActionPlugin {

    private final AtomicReference<ClusterService> clusterService = new AtomicReference<>();

    public NewsetlLocalPlugin() {}

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of(
            "english", LanguageAnalyzerProvider.of(EnglishAnalyzer.getDefaultStopSet(), EnglishAnalyzer::new),
            "french", LanguageAnalyzerProvider.of(FrenchAnalyzer.getDefaultStopSet(), FrenchAnalyzer::new),
            "german", LanguageAnalyzerProvider.of(GermanAnalyzer.getDefaultStopSet(), GermanAnalyzer::new),
            "spanish", LanguageAnalyzerProvider.of(SpanishAnalyzer.getDefaultStopSet(), SpanishAnalyzer::new),
            "italian", LanguageAnalyzerProvider.of(ItalianAnalyzer.getDefaultStopSet(), ItalianAnalyzer::new),
            "portuguese", LanguageAnalyzerProvider.of(PortugueseAnalyzer.getDefaultStopSet(), PortugueseAnalyzer::new),
            "dutch", LanguageAnalyzerProvider.of(DutchAnalyzer.getDefaultStopSet(), DutchAnalyzer::new),
            // CJK text is indexed as overlapping bigrams: there is no stemming to exclude.
            "cjk", LanguageAnalyzerProvider.of(CJKAnalyzer.getDefaultStopSet(), (stopWords, stemExclusion) -> new CJKAnalyzer(stopWords))
        );
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of("asciifolding", AsciiFoldingTokenFilterFactory::new);
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        RestHandlersServices services,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new RestRootAction(clusterService::get));
    }
}
