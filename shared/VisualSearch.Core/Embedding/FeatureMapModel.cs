using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Onnx;
using VisualSearch.Embedding.Quantization;

namespace VisualSearch.Embedding;

/// <summary>
/// Derives the feature-map model from the packaged ResNet18.onnx (issue 14): the same graph cut at the last
/// convolutional activation (<c>ReLU393_Output_0</c>, 512 x h x w, before the global pool <c>Pooling395</c>), with
/// the input's height and width made dynamic, so any input size gives the map of that size and the pooling is
/// done in C# (<see cref="FeatureMapPooling"/>). Never downloaded: the edit runs on the file the NuGet package
/// delivers, on first use, into the same cache as the int8 model, named by a key over the source model's SHA-256,
/// the output tensor and <see cref="Version"/>. Deterministic: the same source bytes give the same bytes.
/// </summary>
public static class FeatureMapModel
{
    /// <summary>Changes whenever the produced graph would change for the same source; part of the cache key.</summary>
    public const string Version = "map-1";

    /// <summary>The file name of the edited model: <c>{name}-map-{key}.onnx</c>.</summary>
    public static string FileName(string modelName, string sourceSha256, string outputName) =>
        $"{modelName}-map-{Key(sourceSha256, outputName)}.onnx";

    /// <summary>The cache key (24 hex digits) over the edit's version, the source model's SHA-256 and the output.</summary>
    public static string Key(string sourceSha256, string outputName) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Version}\n{sourceSha256}\n{outputName}\n")))[..24];

    /// <summary>
    /// Cuts the graph at <paramref name="outputName"/>: the nodes that do not lead to it (the pool, and whatever
    /// follows) and their initializers go, the tensor becomes the only output (N x C x h x w, h and w symbolic),
    /// the single image input's height and width become symbolic, and the intermediate shape annotations (which
    /// fix the 224 sizes) are dropped.
    /// </summary>
    /// <returns>The serialised model.</returns>
    /// <exception cref="InvalidOperationException">The model has no node producing <paramref name="outputName"/>, or not one 4-d input.</exception>
    public static byte[] Edit(byte[] sourceModel, string outputName)
    {
        ArgumentNullException.ThrowIfNull(sourceModel);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputName);
        var model = ModelProto.Parser.ParseFrom(sourceModel);
        var graph = model.Graph;
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var output in node.Output) producer[output] = node;
        if (!producer.ContainsKey(outputName))
            throw new InvalidOperationException($"The model has no tensor '{outputName}' to output the feature map from.");

        // The nodes the output needs, found backwards from it.
        var needed = new HashSet<NodeProto>();
        var pending = new Stack<string>([outputName]);
        while (pending.TryPop(out var tensor))
        {
            if (!producer.TryGetValue(tensor, out var node) || !needed.Add(node)) continue;
            foreach (var input in node.Input) pending.Push(input);
        }

        foreach (var node in graph.Node.Where(n => !needed.Contains(n)).ToList()) graph.Node.Remove(node);
        var used = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var unused in graph.Initializer.Where(t => !used.Contains(t.Name)).ToList()) graph.Initializer.Remove(unused);
        foreach (var unused in graph.Input.Where(i => !used.Contains(i.Name)).ToList()) graph.Input.Remove(unused);

        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var images = graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (images.Count != 1 || images[0].Type?.TensorType?.Shape?.Dim.Count != 4)
            throw new InvalidOperationException("The feature-map edit needs a model with one 4-d image input (N x C x H x W).");
        var inputDims = images[0].Type.TensorType.Shape.Dim;
        inputDims[2] = new TensorShapeProto.Types.Dimension { DimParam = "height" };
        inputDims[3] = new TensorShapeProto.Types.Dimension { DimParam = "width" };

        var channels = graph.ValueInfo.Concat(graph.Output).FirstOrDefault(v => v.Name == outputName)?.Type?.TensorType?.Shape?.Dim is { Count: 4 } dims && dims[1].DimValue > 0
            ? dims[1].DimValue
            : 0;
        graph.ValueInfo.Clear();
        graph.Output.Clear();
        var shape = new TensorShapeProto();
        shape.Dim.Add(inputDims[0].Clone());
        shape.Dim.Add(channels > 0 ? new TensorShapeProto.Types.Dimension { DimValue = channels } : new TensorShapeProto.Types.Dimension { DimParam = "channels" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "map_height" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "map_width" });
        graph.Output.Add(new ValueInfoProto
        {
            Name = outputName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        });
        model.DocString = $"{model.DocString}\nVisualSearch {Version}: the graph cut at {outputName}, input height and width dynamic.".TrimStart('\n');
        return model.ToByteArray();
    }

    /// <summary>
    /// The path of the edited model of <paramref name="sourcePath"/>: an existing file of the right key in one of
    /// <paramref name="searchDirectories"/> (beside the source model, then the cache), or a new one written into the
    /// last of them (milliseconds: a protobuf edit, no inference).
    /// </summary>
    /// <param name="built">True when this call wrote the model.</param>
    public static string GetOrBuild(string modelName, string sourcePath, string outputName, IReadOnlyList<string> searchDirectories, out bool built)
    {
        var fileName = FileName(modelName, Int8ModelBuilder.Sha256Of(sourcePath), outputName);
        return Int8ModelBuilder.FindOrWrite(fileName, searchDirectories, () => Edit(File.ReadAllBytes(sourcePath), outputName), out built);
    }
}
