package org.newsetl.localnode.plugin;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;

import java.util.function.BiFunction;

/**
 * A Lucene language analyzer under Elastic's name for it (`french`, `german`, ...), with the options of
 * Elastic's own providers: `stopwords`, `stopwords_path`, `stem_exclusion`.
 */
public class LanguageAnalyzerProvider extends AbstractIndexAnalyzerProvider<Analyzer> {

    private final Analyzer analyzer;

    private LanguageAnalyzerProvider(
        Environment environment,
        String name,
        Settings settings,
        CharArraySet defaultStopWords,
        BiFunction<CharArraySet, CharArraySet, Analyzer> build
    ) {
        super(name);
        analyzer = build.apply(
            Analysis.parseStopWords(environment, settings, defaultStopWords),
            Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET)
        );
    }

    /** The provider of one language: its default stop words and how to build it from (stop words, stem exclusions). */
    public static AnalysisProvider<AnalyzerProvider<? extends Analyzer>> of(
        CharArraySet defaultStopWords,
        BiFunction<CharArraySet, CharArraySet, Analyzer> build
    ) {
        return (IndexSettings indexSettings, Environment environment, String name, Settings settings) ->
            new LanguageAnalyzerProvider(environment, name, settings, defaultStopWords, build);
    }

    @Override
    public Analyzer get() {
        return analyzer;
    }
}
