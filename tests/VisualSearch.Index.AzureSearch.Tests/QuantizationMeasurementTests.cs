using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;
using Xunit.Abstractions;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// Recall@10 of int8 scalar quantization with and without re-ranking by the originals, and the agreement of search by
/// id through the float16 copy, through the whole backend over the REST fake. The fake ranks by int8 copies made with a
/// per-dimension min/max (its model of the documented behaviour, exact over the copies: no HNSW), so these numbers say
/// what quantization and oversampling do to the ranking, not what the service's graph adds. The check runs on
/// deterministic clustered vectors; with VSEARCH_MEASURE_EMBEDDINGS naming an embedding cache file
/// (~/.cache/vsearch/embeddings/&lt;model&gt;.vec, written by vsearch eval) it measures those real embeddings as well
/// and prints the table that docs/deploy.md quotes.
/// </summary>
public sealed class QuantizationMeasurementTests(ITestOutputHelper output)
{
    private const int K = 10;

    [Fact]
    public async Task Reranking_with_oversampling_recovers_the_exact_neighbours_and_the_float16_copy_finds_the_same_ones()
    {
        var vectors = Clustered(new Random(42), count: 300, dimension: 48, clusters: 10);
        var rows = await MeasureAsync(vectors, queries: 15);

        var noRerank = rows.Single(r => r.Setting == "no re-ranking");
        var rerank1 = rows.Single(r => r.Setting == "re-rank, oversampling 1");
        var rerank4 = rows.Single(r => r.Setting == "re-rank, oversampling 4");
        Assert.True(rerank4.Recall >= rerank1.Recall && rerank4.Recall >= noRerank.Recall, Table(rows));
        Assert.True(rerank4.Recall >= 0.99, Table(rows));
        Assert.True(rerank4.MaxScoreError < 1e-5, Table(rows));
        Assert.True(noRerank.MaxScoreError > 1e-5, "without re-ranking the int8 scores come back: " + Table(rows));
        var copy = rows.Single(r => r.Setting.StartsWith("search by id", StringComparison.Ordinal));
        Assert.True(copy.Recall >= 0.99 && copy.MaxScoreError < 1e-3, Table(rows));
    }

    [EmbeddingsFact]
    public async Task Real_embeddings_when_a_cache_file_is_given()
    {
        var path = Environment.GetEnvironmentVariable(EmbeddingsFactAttribute.Variable)!;
        var vectors = ReadCache(path, limit: 2000);
        output.WriteLine($"{vectors.Count} embeddings of {vectors[0].Length} dimensions from {path}");
        var rows = await MeasureAsync(vectors, queries: 100);
        output.WriteLine(Table(rows));
        Assert.True(rows.Single(r => r.Setting == "re-rank, oversampling 4").Recall >= rows.Single(r => r.Setting == "no re-ranking").Recall);
    }

    private sealed record Row(string Setting, double Recall, double MaxScoreError);

    private static async Task<List<Row>> MeasureAsync(IReadOnlyList<float[]> vectors, int queries)
    {
        var dimension = vectors[0].Length;
        var schema = new IndexSchema("m-measure", dimension);
        var exact = Enumerable.Range(0, queries).Select(q => Exact(vectors, q)).ToList();
        var rows = new List<Row>();
        (string Name, Action<AzureSearchOptions> Configure)[] settings =
        [
            ("no re-ranking", o => o.RerankWithOriginalVectors = false),
            ("re-rank, oversampling 1", o => o.DefaultOversampling = 1),
            ("re-rank, oversampling 2", o => o.DefaultOversampling = 2),
            ("re-rank, oversampling 4", o => o.DefaultOversampling = 4),
            ("re-rank, oversampling 10", o => o.DefaultOversampling = 10),
        ];
        foreach (var (name, configure) in settings)
        {
            var service = new FakeSearchService();
            var index = new VersionedVectorIndex(service.Catalog("measure", configure));
            await index.InitializeAsync(schema);
            await Task.WhenAll(vectors.Select((v, i) => AzureSearchBackendTests.Record($"v{i}", v, modelId: schema.ModelId)).Select(r => index.UpsertAsync(r)));
            var found = new List<IReadOnlyList<SearchHit>>();
            for (var q = 0; q < queries; q++) found.Add(await index.SearchAsync(vectors[q], new VectorQuery(K, ExcludeId: $"v{q}")));
            rows.Add(Compare(name, exact, found));

            if (name == "re-rank, oversampling 4")
            {
                // Search by id as the engine does it: the vector read back (the float16 copy), then the query.
                var byId = new List<IReadOnlyList<SearchHit>>();
                for (var q = 0; q < queries; q++)
                {
                    var item = await index.GetAsync($"v{q}");
                    byId.Add(await index.SearchAsync(item!.Vector, new VectorQuery(K, ExcludeId: $"v{q}")));
                }

                rows.Add(Compare("search by id (float16 copy), oversampling 4", exact, byId));
            }

            Assert.Empty(service.Violations);
        }

        return rows;
    }

    private static Row Compare(string name, List<List<(string Id, double Score)>> exact, List<IReadOnlyList<SearchHit>> found)
    {
        double recall = 0, error = 0;
        for (var q = 0; q < exact.Count; q++)
        {
            var truth = exact[q];
            recall += found[q].Count(h => truth.Any(t => t.Id == h.Id)) / (double)K;
            for (var i = 0; i < Math.Min(found[q].Count, truth.Count); i++) error = Math.Max(error, Math.Abs(found[q][i].Score - truth[i].Score));
        }

        return new Row(name, recall / exact.Count, error);
    }

    private static List<(string Id, double Score)> Exact(IReadOnlyList<float[]> vectors, int query) =>
        vectors.Select((v, i) => (Id: $"v{i}", Score: FakeSearchService.Cosine(vectors[query], v)))
            .Where(h => h.Id != $"v{query}")
            .OrderByDescending(h => h.Score)
            .Take(K)
            .ToList();

    private static string Table(IEnumerable<Row> rows) =>
        string.Join('\n', rows.Select(r => string.Create(CultureInfo.InvariantCulture, $"| {r.Setting} | {r.Recall:F3} | {r.MaxScoreError:E1} |")));

    /// <summary>Non-negative, L2-normalised vectors around <paramref name="clusters"/> centres, like pooled CNN features.</summary>
    private static List<float[]> Clustered(Random random, int count, int dimension, int clusters)
    {
        var centres = Enumerable.Range(0, clusters).Select(_ => Enumerable.Range(0, dimension).Select(_ => (float)Math.Pow(random.NextDouble(), 3)).ToArray()).ToList();
        return Enumerable.Range(0, count).Select(i =>
        {
            var c = centres[i % clusters];
            var v = c.Select(x => MathF.Max(0, x + (float)(random.NextDouble() - 0.5) * 0.3f)).ToArray();
            var norm = MathF.Sqrt(v.Sum(x => x * x));
            return v.Select(x => x / norm).ToArray();
        }).ToList();
    }

    /// <summary>Reads the vectors of an embedding cache file (format: VisualSearch.Evaluation.EmbeddingCache), a torn tail ignored.</summary>
    private static List<float[]> ReadCache(string path, int limit)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 16 || Encoding.ASCII.GetString(bytes, 0, 8) != "VSEMB001") throw new InvalidDataException($"{path} is not an embedding cache.");
        var dimension = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var offset = 12 + 4 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        var vectors = new List<float[]>();
        while (vectors.Count < limit && offset + 4 <= bytes.Length)
        {
            var keyLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
            var end = offset + 4 + keyLength + 4 + 4 * dimension;
            if (keyLength < 0 || end > bytes.Length) break;
            var start = offset + 4 + keyLength + 4;
            var v = new float[dimension];
            for (var i = 0; i < dimension; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(start + 4 * i));
            vectors.Add(v);
            offset = end;
        }

        return vectors;
    }
}

/// <summary>A measurement that runs only when VSEARCH_MEASURE_EMBEDDINGS names an embedding cache file (shown as skipped otherwise).</summary>
public sealed class EmbeddingsFactAttribute : FactAttribute
{
    public const string Variable = "VSEARCH_MEASURE_EMBEDDINGS";

    public EmbeddingsFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))) Skip = $"{Variable} is not set (a measurement on real embeddings; see docs/deploy.md).";
    }
}
