using System.Diagnostics;
using System.Numerics.Tensors;
using VisualSearch.Embedding;

namespace VisualSearch.Training;

/// <summary>Settings of <see cref="ProxyAnchorTrainer"/>. The defaults are the paper's loss settings.</summary>
public sealed record ProxyAnchorOptions
{
    /// <summary>Output dimension d of the head.</summary>
    public int Dimension { get; init; } = 128;

    /// <summary>Passes over the training set; 0 gives the PCA(-whitening) start alone, a baseline.</summary>
    public int Epochs { get; init; } = 20;

    public int BatchSize { get; init; } = 128;

    /// <summary>Adam step size for W.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Adam step size for the proxies (the paper uses 100x the backbone's; 10x here, for a linear head).</summary>
    public double ProxyLearningRate { get; init; } = 1e-2;

    /// <summary>Proxy-Anchor scale α (32 in Kim et al. 2020).</summary>
    public double Alpha { get; init; } = 32;

    /// <summary>Proxy-Anchor margin δ (0.1 in Kim et al. 2020).</summary>
    public double Delta { get; init; } = 0.1;

    /// <summary>
    /// PCA-whiten the inputs first (the classic PCAw of image retrieval); W then starts as that whitening cut to d.
    /// Off by default: on the dev sets' inner class splits it helped MAP@R as much as plain PCA but cost more R@1
    /// (docs/quality.md). Without it W starts as the projection on the top d principal components.
    /// </summary>
    public bool Whiten { get; init; }

    /// <summary>Whitening divides component i by sqrt(λ_i + s * mean λ): s keeps weak components from being blown up.</summary>
    public double WhiteningShrinkage { get; init; } = 1.0;

    public int Seed { get; init; } = 1;
}

/// <summary>The trained head, and how training went.</summary>
/// <param name="EpochLoss">Mean Proxy-Anchor loss of each epoch (index 0: the first epoch).</param>
/// <param name="Components">PCA components kept (at most the input dimension and the number of items minus one).</param>
public sealed record TrainingResult(ProjectionHead Head, IReadOnlyList<double> EpochLoss, int Components, TimeSpan Elapsed);

/// <summary>
/// Learns a linear projection head y = normalize(W (x - mean)) on frozen backbone embeddings with the
/// Proxy-Anchor loss (Kim et al., CVPR 2020): one learnable proxy per class; for each proxy, a soft-plus
/// over the batch pulls its class's embeddings above cosine δ and pushes the others below -δ, with scale α.
/// Optionally preceded by PCA-whitening (folded into W). Gradients by hand, Adam, single-threaded and
/// deterministic for a given seed.
/// </summary>
public static class ProxyAnchorTrainer
{
    public static TrainingResult Train(
        IReadOnlyList<float[]> vectors,
        IReadOnlyList<int> labels,
        string backboneModelId,
        ProxyAnchorOptions? options = null,
        IProgress<(int Epoch, double Loss)>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentException.ThrowIfNullOrWhiteSpace(backboneModelId);
        options ??= new ProxyAnchorOptions();
        if (vectors.Count != labels.Count) throw new ArgumentException("One label per vector.", nameof(labels));
        ArgumentOutOfRangeException.ThrowIfLessThan(vectors.Count, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Dimension, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Epochs);
        ArgumentOutOfRangeException.ThrowIfNegative(options.WhiteningShrinkage);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 2);
        if (labels.Any(l => l < 0)) throw new ArgumentException("Labels are class indices from 0.", nameof(labels));
        var classes = labels.Max() + 1;
        if (classes < 2) throw new ArgumentException("Training needs at least two classes.", nameof(labels));

        var sw = Stopwatch.StartNew();
        var n = vectors.Count;
        var inputDimension = vectors[0].Length;
        var d = options.Dimension;

        // 1. PCA(-whitening): features f = P (x - mean), P of k x D.
        var pca = Pca.Fit(vectors, cancellationToken);
        var top = pca.Eigenvalues[0];
        var k = pca.Eigenvalues.Take(Math.Min(inputDimension, n - 1)).Count(l => l > 1e-9 * top);
        k = Math.Max(1, k);
        var meanEigenvalue = pca.Eigenvalues.Take(k).Average();
        var projection = new float[k * inputDimension];
        for (var r = 0; r < k; r++)
        {
            var scale = options.Whiten
                ? 1 / Math.Sqrt(pca.Eigenvalues[r] + options.WhiteningShrinkage * meanEigenvalue)
                : 1 / Math.Sqrt(meanEigenvalue);
            for (var i = 0; i < inputDimension; i++) projection[r * inputDimension + i] = (float)(pca.Components[r][i] * scale);
        }

        var features = new float[n][];
        var centred = new float[inputDimension];
        for (var i = 0; i < n; i++)
        {
            TensorPrimitives.Subtract(vectors[i], pca.Mean, centred);
            var f = new float[k];
            for (var r = 0; r < k; r++) f[r] = TensorPrimitives.Dot(projection.AsSpan(r * inputDimension, inputDimension), centred);
            features[i] = f;
        }

        // 2. W (d x k) starts as the identity on the first components; proxies as the class means.
        var random = new Random(options.Seed);
        var w = new float[d * k];
        for (var r = 0; r < d; r++)
        {
            if (r < k) w[r * k + r] = 1;
            else for (var c = 0; c < k; c++) w[r * k + c] = (float)(0.01 * Gaussian(random));
        }

        var proxies = new float[classes * d];
        var z = new float[d];
        for (var i = 0; i < n; i++)
        {
            Project(w, features[i], z, d, k);
            Normalise(z);
            TensorPrimitives.Add(proxies.AsSpan(labels[i] * d, d), z, proxies.AsSpan(labels[i] * d, d));
        }

        for (var c = 0; c < classes; c++)
        {
            var p = proxies.AsSpan(c * d, d);
            if (TensorPrimitives.Norm(p) == 0) for (var j = 0; j < d; j++) p[j] = (float)Gaussian(random);
            Normalise(p);
        }

        var batch = new Batch(d, k, classes, options);

        // 3. Adam over shuffled mini-batches.
        var adamW = new Adam(w.Length, options.LearningRate);
        var adamP = new Adam(proxies.Length, options.ProxyLearningRate);
        var order = Enumerable.Range(0, n).ToArray();
        var losses = new List<double>(options.Epochs);
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            random.Shuffle(order);
            double sum = 0;
            var counted = 0;
            for (var start = 0; start < n; start += options.BatchSize)
            {
                var size = Math.Min(options.BatchSize, n - start);
                if (size < 2) continue;
                var members = order.AsSpan(start, size).ToArray();
                sum += batch.Loss(w, proxies, features, labels, members) * size;
                counted += size;
                adamW.Step(w, batch.GradW);
                adamP.Step(proxies, batch.GradProxies);
            }

            var loss = counted > 0 ? sum / counted : double.NaN;
            losses.Add(loss);
            progress?.Report((epoch + 1, loss));
        }

        // 4. Fold the PCA(-whitening) into one d x D matrix.
        var total = new float[d * inputDimension];
        var row = new double[inputDimension];
        for (var r = 0; r < d; r++)
        {
            Array.Clear(row);
            for (var c = 0; c < k; c++)
            {
                var weight = w[r * k + c];
                if (weight == 0) continue;
                for (var i = 0; i < inputDimension; i++) row[i] += weight * projection[c * inputDimension + i];
            }

            for (var i = 0; i < inputDimension; i++) total[r * inputDimension + i] = (float)row[i];
        }

        var head = new ProjectionHead(backboneModelId, pca.Mean, total, d);
        return new TrainingResult(head, losses, k, sw.Elapsed);
    }

    private static void Project(float[] w, float[] f, Span<float> z, int d, int k)
    {
        for (var r = 0; r < d; r++) z[r] = TensorPrimitives.Dot(w.AsSpan(r * k, k), f);
    }

    private static float Normalise(Span<float> v)
    {
        var norm = TensorPrimitives.Norm(v);
        if (norm > 0) TensorPrimitives.Divide(v, norm, v);
        return norm;
    }

    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Loss and gradients of one batch.</summary>
    private sealed class Batch(int d, int k, int classes, ProxyAnchorOptions options)
    {
        public float[] GradW { get; } = new float[d * k];

        public float[] GradProxies { get; } = new float[classes * d];

        public double Loss(float[] w, float[] proxies, float[][] features, IReadOnlyList<int> labels, int[] members)
        {
            var b = members.Length;
            var alpha = options.Alpha;
            var delta = options.Delta;

            // Forward: unit embeddings e (b x d), unit proxies q (C x d), cosines s (b x C).
            var e = new float[b * d];
            var zNorm = new float[b];
            for (var i = 0; i < b; i++)
            {
                var ei = e.AsSpan(i * d, d);
                Project(w, features[members[i]], ei, d, k);
                zNorm[i] = Normalise(ei);
            }

            var q = (float[])proxies.Clone();
            var pNorm = new float[classes];
            for (var c = 0; c < classes; c++) pNorm[c] = Normalise(q.AsSpan(c * d, d));

            var s = new double[b * classes];
            for (var i = 0; i < b; i++)
                for (var c = 0; c < classes; c++) s[i * classes + c] = TensorPrimitives.Dot(e.AsSpan(i * d, d), q.AsSpan(c * d, d));

            // Proxy-Anchor: positives over the proxies with a positive in the batch, negatives over all proxies.
            var positiveSum = new double[classes];
            var negativeSum = new double[classes];
            var hasPositive = new bool[classes];
            for (var i = 0; i < b; i++)
            {
                var y = labels[members[i]];
                for (var c = 0; c < classes; c++)
                {
                    var sic = s[i * classes + c];
                    if (c == y)
                    {
                        hasPositive[c] = true;
                        positiveSum[c] += Math.Exp(-alpha * (sic - delta));
                    }
                    else
                    {
                        negativeSum[c] += Math.Exp(alpha * (sic + delta));
                    }
                }
            }

            var positiveProxies = hasPositive.Count(h => h);
            double loss = 0;
            for (var c = 0; c < classes; c++)
            {
                if (hasPositive[c]) loss += double.LogP1(positiveSum[c]) / positiveProxies;
                loss += double.LogP1(negativeSum[c]) / classes;
            }

            // dL/ds, then through the cosines and the normalisations.
            var g = new double[b * classes];
            for (var i = 0; i < b; i++)
            {
                var y = labels[members[i]];
                for (var c = 0; c < classes; c++)
                {
                    var sic = s[i * classes + c];
                    g[i * classes + c] = c == y
                        ? -alpha * Math.Exp(-alpha * (sic - delta)) / (1 + positiveSum[c]) / positiveProxies
                        : alpha * Math.Exp(alpha * (sic + delta)) / (1 + negativeSum[c]) / classes;
                }
            }

            Array.Clear(GradW);
            Array.Clear(GradProxies);
            var gradE = new float[d];
            var gradQ = new float[classes * d];
            for (var i = 0; i < b; i++)
            {
                var ei = e.AsSpan(i * d, d);
                Array.Clear(gradE);
                for (var c = 0; c < classes; c++)
                {
                    var gic = (float)g[i * classes + c];
                    if (gic == 0) continue;
                    TensorPrimitives.MultiplyAdd(q.AsSpan(c * d, d), gic, gradE, gradE);
                    TensorPrimitives.MultiplyAdd(ei, gic, gradQ.AsSpan(c * d, d), gradQ.AsSpan(c * d, d));
                }

                // dz = (gradE - (gradE . e) e) / |z|; dW += dz f^T.
                var along = TensorPrimitives.Dot(gradE, ei);
                TensorPrimitives.MultiplyAdd(ei, -along, gradE, gradE);
                TensorPrimitives.Divide(gradE, Math.Max(zNorm[i], 1e-12f), gradE);
                var f = features[members[i]];
                for (var r = 0; r < d; r++)
                {
                    var dz = gradE[r];
                    if (dz != 0) TensorPrimitives.MultiplyAdd(f, dz, GradW.AsSpan(r * k, k), GradW.AsSpan(r * k, k));
                }
            }

            for (var c = 0; c < classes; c++)
            {
                var qc = q.AsSpan(c * d, d);
                var gq = gradQ.AsSpan(c * d, d);
                var along = TensorPrimitives.Dot(gq, qc);
                var target = GradProxies.AsSpan(c * d, d);
                TensorPrimitives.MultiplyAdd(qc, -along, gq, target);
                TensorPrimitives.Divide(target, Math.Max(pNorm[c], 1e-12f), target);
            }

            return loss;
        }
    }

    /// <summary>Adam (Kingma and Ba 2015) with the usual β1 0.9, β2 0.999, ε 1e-8.</summary>
    private sealed class Adam(int length, double learningRate)
    {
        private const double Beta1 = 0.9;
        private const double Beta2 = 0.999;
        private const double Epsilon = 1e-8;
        private readonly double[] _m = new double[length];
        private readonly double[] _v = new double[length];
        private int _t;

        public void Step(float[] parameters, float[] gradient)
        {
            _t++;
            var correction1 = 1 - Math.Pow(Beta1, _t);
            var correction2 = 1 - Math.Pow(Beta2, _t);
            for (var i = 0; i < parameters.Length; i++)
            {
                double grad = gradient[i];
                _m[i] = Beta1 * _m[i] + (1 - Beta1) * grad;
                _v[i] = Beta2 * _v[i] + (1 - Beta2) * grad * grad;
                parameters[i] -= (float)(learningRate * (_m[i] / correction1) / (Math.Sqrt(_v[i] / correction2) + Epsilon));
            }
        }
    }
}
